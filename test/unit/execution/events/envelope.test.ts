import { EventEnvelope } from '../../../../src/execution/events/envelope';
import type { EventSink } from '../../../../src/execution/events/sink';
import type { NativeEvent } from '../../../../src/execution/types';

function recordingSink(full = false): EventSink & { events: NativeEvent[] } {
  const events: NativeEvent[] = [];
  return {
    events,
    open: () => undefined,
    write: (ev) => {
      events.push(structuredClone(ev));
      return !full;
    },
    drained: () => Promise.resolve(),
    abort: () => undefined,
    close: () => undefined,
  };
}

test('events get the backend, a timestamp and a gap-free sequence from 1; the session once known', () => {
  const sink = recordingSink();
  const env = new EventEnvelope('gemini', sink);
  env.emit({ type: 'init', content: { model: 'm' } });
  env.session('0123456789abcdef0123456789abcdef');
  env.emit({ type: 'message', content: { text: 'hi', role: 'assistant' } });
  env.terminal('done', { exit_code: 0, duration_ms: 5 });
  expect(sink.events.map((e) => [e.sequence, e.type, e.backend, e.session_id])).toEqual([
    [1, 'init', 'gemini', undefined],
    [2, 'message', 'gemini', '0123456789abcdef0123456789abcdef'],
    [3, 'done', 'gemini', '0123456789abcdef0123456789abcdef'],
  ]);
  for (const e of sink.events) expect(new Date(e.timestamp).toISOString()).toBe(e.timestamp);
  expect(sink.events[2].content).toEqual({ exit_code: 0, duration_ms: 5 });
  // key order of the envelope on the wire
  expect(Object.keys(sink.events[1])).toEqual(['type', 'backend', 'session_id', 'timestamp', 'sequence', 'content']);
});

test('nothing is written after the terminal event', () => {
  const sink = recordingSink();
  const env = new EventEnvelope('claude', sink);
  env.terminal('error', { message: 'boom', code: 'backend_failed', exit_code: 1 });
  expect(env.emit({ type: 'message', content: { text: 'late', role: 'assistant' } })).toBe(true);
  env.terminal('done', { exit_code: 0, duration_ms: 0 });
  expect(sink.events.map((e) => e.type)).toEqual(['error']);
});

test("emit reports a full sink (the caller's backpressure signal)", () => {
  const sink = recordingSink(true);
  const env = new EventEnvelope('codex', sink);
  expect(env.emit({ type: 'message', content: { text: 'x', role: 'assistant' } })).toBe(false);
  expect(sink.events).toHaveLength(1);
});
