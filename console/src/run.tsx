/** A streamed prompt run (Playground, continuing a session): its events, text so far and outcome. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { isAbort, type StreamEvent } from './api';
import { isTerminal, streamPrompt } from './stream';
import { ErrorBox, Output, summarize } from './ui';

export interface RunState {
  running: boolean;
  events: StreamEvent[];
  text: string;
  terminal?: StreamEvent;
  error?: unknown;
  sessionId?: string;
}

const IDLE: RunState = { running: false, events: [], text: '' };

export function useStreamRun(onFinished?: (s: RunState) => void) {
  const [state, setState] = useState<RunState>(IDLE);
  const ac = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => ac.current?.abort(), []);

  const start = (body: Record<string, unknown>) => {
    ac.current?.abort();
    const ctl = new AbortController();
    ac.current = ctl;
    let s: RunState = { running: true, events: [], text: '' };
    setState(s);
    streamPrompt(
      body,
      (e) => {
        s = {
          ...s,
          events: [...s.events, e],
          text: e.type === 'message' ? s.text + String((e.content as { text?: string }).text ?? '') : s.text,
          terminal: isTerminal(e) ? e : s.terminal,
          sessionId: s.sessionId ?? e.session_id,
        };
        setState(s);
      },
      ctl.signal,
    ).then(
      () => {
        s = { ...s, running: false };
        setState(s);
        onFinished?.(s);
      },
      (error) => {
        s = { ...s, running: false, error: isAbort(error) ? undefined : error };
        setState(s);
        onFinished?.(s);
      },
    );
  };
  const stop = () => ac.current?.abort();
  return { state, start, stop };
}

export function RunView({ state, idPrefix }: { state: RunState; idPrefix: string }) {
  if (!state.running && state.events.length === 0 && !state.error) return null;
  const t = state.terminal;
  const tools = state.events.filter((e) => e.type === 'tool_use');
  const lastTool = tools[tools.length - 1];
  return (
    <section class="run" aria-label="Run output">
      <p class="run-status" id={`${idPrefix}-status`} data-state={state.running ? 'running' : t ? t.type : 'stopped'}>
        {state.running ? 'Running…' : t ? (t.type === 'done' ? 'Finished' : 'Failed') : 'Stopped'} ·{' '}
        {state.events.length} events
        {lastTool && <> · latest tool: {summarize(lastTool)}</>}
        {state.sessionId && (
          <>
            {' '}
            · session <a href={`#/sessions/${state.sessionId}`}>{state.sessionId.slice(0, 8)}</a>
          </>
        )}
      </p>
      <ErrorBox error={state.error} />
      <Output text={state.text} id={`${idPrefix}-output`} live={state.running} />
      {t && t.type === 'error' && <div class="error">{summarize(t)}</div>}
      {t && t.type === 'done' && <p class="muted">{summarize(t)}</p>}
    </section>
  );
}
