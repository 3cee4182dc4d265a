/** Resolves after pending I/O callbacks have run: long scans call it every few thousand items. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
