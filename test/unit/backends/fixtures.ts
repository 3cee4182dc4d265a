/** Shared helpers of the backend adapter tests: sample loading, parser feeding, base options. */
import * as fs from 'fs';
import * as path from 'path';
import type { BuildArgsOptions, ProcessExit, StreamParser, UnifiedEvent } from '../../../src/backends/types';

const SAMPLES = path.join(__dirname, '../../fixtures/samples');

export function sample(dir: string, file: string): string {
  return fs.readFileSync(path.join(SAMPLES, dir, file), 'utf8');
}

/** stdout and stderr of a `<name>.stdout` / `<name>.stderr` pair (missing file → ""). */
export function pair(dir: string, name: string): { stdout: string; stderr: string } {
  const read = (ext: string): string => {
    const p = path.join(SAMPLES, dir, `${name}.${ext}`);
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
  };
  return { stdout: read('stdout'), stderr: read('stderr') };
}

export const exitCode = (code: number): ProcessExit => ({ code, signal: null });
export const OK = exitCode(0);

/** Feeds `text` line by line (as the runner does: split on `\n`, trailing `\r` removed). */
export function feed(parser: StreamParser, text: string): UnifiedEvent[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .flatMap((l) => parser.push(l));
}

export function opts(over: Partial<BuildArgsOptions> = {}): BuildArgsOptions {
  return {
    prompt: 'hi',
    approvalMode: 'default',
    sandboxMode: 'default',
    maxTurns: 0,
    systemPromptMode: 'replace',
    verbose: false,
    ephemeral: false,
    containerSandbox: false,
    extra: [],
    configExtraFlags: [],
    ...over,
  };
}

/** Lines of hostile or broken input every parser must survive. */
export const GARBAGE_LINES = [
  '',
  '   ',
  'not json',
  '{',
  '{"type":',
  '[]',
  '[1,2,3]',
  'null',
  '42',
  '"string"',
  '{}',
  '{"type":null}',
  '{"type":42}',
  '{"type":"result"}',
  '{"type":"result","usage":"x","stats":[],"error":null,"status":5}',
  '{"type":"system"}',
  '{"type":"system","subtype":"init","session_id":5}',
  '{"type":"stream_event"}',
  '{"type":"stream_event","event":{"type":"content_block_delta","delta":null}}',
  '{"type":"assistant","message":{"content":"nope"}}',
  '{"type":"assistant","message":{"content":[null,1,{"type":"tool_use"}]}}',
  '{"type":"user","message":{"content":[{"type":"tool_result","content":{"a":1}}]}}',
  '{"type":"item.completed","item":null}',
  '{"type":"item.completed","item":{"type":"command_execution"}}',
  '{"type":"item.started","item":{}}',
  '{"type":"turn.failed","error":"x"}',
  '{"type":"error"}',
  '{"type":"message","role":"assistant"}',
  '{"type":"tool_result"}',
  '{"type":"tool_use","parameters":{"a":[1]}}',
  '{"__proto__":{"polluted":true},"type":"init"}',
  '\u0000\uffff\ud800',
];
