/** Small shared pieces: data hooks, error and empty states, agent output, formatting. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, describe, isAbort } from './api';

type Renderer = (text: string) => string;
let markdown: Promise<Renderer> | undefined;

/** marked and DOMPurify are most of the bundle: they load the first time someone asks for Markdown. */
function loadMarkdown(): Promise<Renderer> {
  markdown ??= import('./markdown').then((m) => m.renderMarkdown);
  return markdown;
}

export interface Async<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `fn` now, whenever `deps` change and every `pollMs` (when given) while the page is visible;
 * a stale answer never overwrites a newer one.
 */
export function useApi<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fn(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error) => !ac.signal.aborted && !isAbort(error) && setState((s) => ({ data: s.data, error, loading: false })),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (pollMs) timer = setTimeout(reload, pollMs);
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload };
}

/** Re-renders every `ms` (elapsed times). */
export function useNow(ms = 1000, active = true): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, active]);
  return now;
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const status = error instanceof ApiFailure ? error.status : undefined;
  return (
    <div class="error" role="alert" data-status={status}>
      <span>{describe(error)}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** Agent output: plain text by default, or Markdown sanitized down to formatting tags. */
export function Output({ text, id, live }: { text: string; id?: string; live?: boolean }) {
  const [md, setMd] = useState(false);
  const [render, setRender] = useState<{ fn: Renderer } | undefined>(undefined);
  useEffect(() => {
    if (md && !render) void loadMarkdown().then((fn) => setRender({ fn }));
  }, [md]);
  return (
    <div class="output">
      <label class="inline">
        <input type="checkbox" checked={md} onChange={(e) => setMd((e.target as HTMLInputElement).checked)} /> Render
        Markdown
      </label>
      {md && render ? (
        <div
          class="md"
          id={id}
          aria-live={live ? 'polite' : undefined}
          dangerouslySetInnerHTML={{ __html: render.fn(text) }}
        />
      ) : (
        <pre class="text" id={id} aria-live={live ? 'polite' : undefined}>
          {text}
        </pre>
      )}
    </div>
  );
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z_-]/g, '')}`}>{value}</span>;
}

export function fmtTime(iso?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function fmtNum(n: number | undefined): string {
  return n === undefined ? '—' : n.toLocaleString('en-US');
}

/** A short one-line description of an event's content. */
export function summarize(e: { type: string; content: Record<string, any> }): string {
  const c = e.content ?? {};
  switch (e.type) {
    case 'message':
    case 'thinking':
      return String(c.text ?? '');
    case 'tool_use':
      return `${c.tool_name ?? ''} ${c.input === undefined ? '' : JSON.stringify(c.input)}`.trim();
    case 'tool_result':
      return `${c.tool_name || 'tool'}${c.is_error ? ' (error)' : ''}: ${String(c.output ?? '')}`;
    case 'progress':
      return [c.stage, c.message].filter(Boolean).join(': ');
    case 'token_usage':
      return `in ${c.input_tokens} / out ${c.output_tokens}`;
    case 'done':
      return `exit ${c.exit_code}, ${c.duration_ms} ms`;
    case 'error':
      return `${c.code}: ${c.message}`;
    case 'init':
      return [c.model, c.working_dir].filter(Boolean).join(' · ');
    default:
      return JSON.stringify(c);
  }
}

/** Keeps a ref in sync with a value (for callbacks that outlive a render). */
export function useLatest<T>(value: T) {
  const r = useRef(value);
  r.current = value;
  return r;
}
