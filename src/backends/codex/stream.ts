/** codex stream parser: the shared JSONL state machine fed line by line. */
import type { ProcessExit, StreamFinish, UnifiedEvent } from '../types';
import { compact, JsonLineParser, type JsonObject } from '../util';
import { CodexState } from './parse';

/**
 * Usage in `finish()` is what codex reported: cumulative for the whole thread on resumed runs; the
 * execution layer subtracts the session's stored cumulative usage (`subtractCumulative`).
 */
export class CodexStreamParser extends JsonLineParser {
  private readonly state = new CodexState();

  protected handle(obj: JsonObject): UnifiedEvent[] {
    return this.state.handle(obj);
  }

  finish(exit: ProcessExit, stderr: string): StreamFinish {
    return compact({
      ...this.state.outcome(stderr, exit),
      usage: this.state.usage,
      backendSessionId: this.state.threadId,
    });
  }
}
