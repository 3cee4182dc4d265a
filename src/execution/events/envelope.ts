/**
 * The native stream envelope: every event of a run gets the run's backend, its session id (once
 * known), a timestamp and a gap-free sequence number starting at 1. Nothing is written after the
 * terminal event (`done` or `error`).
 */
import type { UnifiedEvent } from '../../backends/types';
import type { NativeEvent } from '../types';
import type { EventSink } from './sink';

export class EventEnvelope {
  private sequence = 0;
  private sessionId?: string;
  private ended = false;

  constructor(
    private readonly backend: NativeEvent['backend'],
    private readonly sink: EventSink,
  ) {}

  /** The session id later events carry. */
  session(id: string | undefined): void {
    this.sessionId = id;
  }

  /** Writes a non-terminal event; false when the sink is full (see `EventSink.write`). */
  emit(ev: UnifiedEvent): boolean {
    return this.write(ev.type, ev.content as Record<string, unknown>);
  }

  /** Writes the terminal event; later writes are dropped. */
  terminal(type: 'done' | 'error', content: Record<string, unknown>): void {
    this.write(type, content);
    this.ended = true;
  }

  private write(type: NativeEvent['type'], content: Record<string, unknown>): boolean {
    if (this.ended) return true;
    const ev: NativeEvent = { type, backend: this.backend } as NativeEvent;
    if (this.sessionId) ev.session_id = this.sessionId;
    ev.timestamp = new Date().toISOString();
    ev.sequence = ++this.sequence;
    ev.content = content;
    return this.sink.write(ev);
  }
}
