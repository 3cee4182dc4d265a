/** Where a stream run writes its events (the HTTP layer encodes them; jobs record them). */
import type { NativeEvent } from '../types';

export interface EventSink {
  /** Called once, right after spawn (or validation for a dry run): write the response head. */
  open(sessionId: string | undefined): void;
  /** Writes one event; false → the socket is full, wait for `drained`. */
  write(event: NativeEvent): boolean;
  drained(): Promise<void>;
  /** Aborts the response (socket destroyed) after a write timeout. */
  abort(): void;
  close(): void;
}
