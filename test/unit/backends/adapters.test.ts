import { ADAPTER_ORDER, ADAPTERS } from '../../../src/backends/adapters';
import { BACKEND_NAMES } from '../../../src/backends/types';
import { exitCode, GARBAGE_LINES, OK } from './fixtures';

describe('adapter registry (SPEC §5.1)', () => {
  it('fixed order and names', () => {
    expect(ADAPTER_ORDER).toEqual(['claude', 'codex', 'gemini']);
    expect(Object.keys(ADAPTERS)).toEqual([...BACKEND_NAMES]);
    for (const name of ADAPTER_ORDER) {
      expect(ADAPTERS[name].name).toBe(name);
      expect(ADAPTERS[name].defaultCommand).toBe(name);
    }
  });

  it('vendors and display names (SPEC §3.13, §3.20)', () => {
    expect(ADAPTER_ORDER.map((n) => ADAPTERS[n].vendor)).toEqual(['anthropic', 'openai', 'google']);
    expect(ADAPTER_ORDER.map((n) => ADAPTERS[n].displayName)).toEqual([
      'Claude Code (claude CLI)',
      'Codex CLI (codex)',
      'Gemini CLI (gemini)',
    ]);
  });

  it('constants', () => {
    expect(ADAPTER_ORDER.map((n) => ADAPTERS[n].systemPromptAsFlag)).toEqual([true, false, false]);
    expect(ADAPTER_ORDER.map((n) => ADAPTERS[n].cumulativeUsage)).toEqual([false, true, false]);
  });

  it('each createStreamParser call returns a fresh parser', () => {
    for (const name of ADAPTER_ORDER) {
      const a = ADAPTERS[name].createStreamParser();
      const b = ADAPTERS[name].createStreamParser();
      expect(a).not.toBe(b);
    }
  });
});

describe('robustness: garbage never throws', () => {
  it.each([...ADAPTER_ORDER])('%s stream parser', (name) => {
    const parser = ADAPTERS[name].createStreamParser();
    for (const line of GARBAGE_LINES) {
      expect(() => parser.push(line)).not.toThrow();
      for (const e of parser.push(line)) expect(e.type).not.toBe('token_usage');
    }
    expect(() => parser.finish(OK, '\u0000garbage')).not.toThrow();
    expect(() => parser.finish({ code: null, signal: 'SIGKILL' }, '')).not.toThrow();
    expect(parser.finish(exitCode(1), '{').success).toBe(false);
  });

  it.each([...ADAPTER_ORDER])('%s parseResult', (name) => {
    const all = GARBAGE_LINES.join('\n');
    for (const stdout of [all, ...GARBAGE_LINES, '{\n"response": 5\n}', '[{"type":"result","is_error":"no"}]']) {
      for (const stderr of ['', '{', '{\n"error": null\n}', all]) {
        expect(() => ADAPTERS[name].parseResult(stdout, stderr, exitCode(1))).not.toThrow();
        expect(ADAPTERS[name].parseResult(stdout, stderr, exitCode(1)).success).toBe(false);
      }
    }
  });

  it('unknown-but-valid events produce nothing', () => {
    for (const name of ADAPTER_ORDER) {
      const parser = ADAPTERS[name].createStreamParser();
      expect(parser.push('{"type":"something_new","x":1}')).toEqual([]);
    }
  });
});
