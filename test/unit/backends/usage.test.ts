import {
  addUsage,
  claudeUsage,
  codexUsage,
  geminiJsonUsage,
  geminiStreamUsage,
  subtractCumulative,
} from '../../../src/backends/usage';

describe('subtractCumulative (codex resumed threads, SPEC §5.5/§5.10)', () => {
  it('json → resume-json → resume-last-json deltas', () => {
    const first = { input_tokens: 14962, output_tokens: 6, cached_tokens: 0, reasoning_tokens: 0 };
    const second = { input_tokens: 30000, output_tokens: 12, cached_tokens: 0, reasoning_tokens: 0 };
    const third = { input_tokens: 45115, output_tokens: 18, cached_tokens: 0, reasoning_tokens: 0 };
    expect(subtractCumulative(second, first)).toEqual({
      input_tokens: 15038,
      output_tokens: 6,
      cached_tokens: 0,
      reasoning_tokens: 0,
    });
    expect(subtractCumulative(third, second)).toEqual({
      input_tokens: 15115,
      output_tokens: 6,
      cached_tokens: 0,
      reasoning_tokens: 0,
    });
  });

  it('floors at 0 per field', () => {
    expect(
      subtractCumulative(
        { input_tokens: 10, output_tokens: 5, cached_tokens: 1, reasoning_tokens: 9 },
        { input_tokens: 20, output_tokens: 2, cached_tokens: 3, reasoning_tokens: 4 },
      ),
    ).toEqual({ input_tokens: 0, output_tokens: 3, cached_tokens: 0, reasoning_tokens: 5 });
  });

  it('missing previous fields count as 0; optional fields follow the reported value', () => {
    expect(
      subtractCumulative(
        { input_tokens: 10, output_tokens: 5, cached_tokens: 4 },
        { input_tokens: 3, output_tokens: 1 },
      ),
    ).toEqual({ input_tokens: 7, output_tokens: 4, cached_tokens: 4 });
    expect(
      subtractCumulative(
        { input_tokens: 10, output_tokens: 5 },
        { input_tokens: 3, output_tokens: 1, cached_tokens: 2 },
      ),
    ).toEqual({ input_tokens: 7, output_tokens: 4 });
    expect(subtractCumulative({ input_tokens: 10, output_tokens: 5 }, undefined)).toEqual({
      input_tokens: 10,
      output_tokens: 5,
    });
  });
});

describe('normalisers (SPEC §5.10)', () => {
  it('claude', () => {
    expect(
      claudeUsage({ input_tokens: 1, cache_creation_input_tokens: 2, cache_read_input_tokens: 3, output_tokens: 4 }),
    ).toEqual({
      input_tokens: 6,
      output_tokens: 4,
      cached_tokens: 3,
    });
    expect(claudeUsage({ input_tokens: 5, output_tokens: 1 })).toEqual({ input_tokens: 5, output_tokens: 1 });
    expect(claudeUsage(undefined)).toBeUndefined();
    expect(claudeUsage('x')).toBeUndefined();
  });

  it('codex', () => {
    expect(
      codexUsage({ input_tokens: 100, cached_input_tokens: 40, output_tokens: 20, reasoning_output_tokens: 5 }),
    ).toEqual({
      input_tokens: 100,
      output_tokens: 20,
      cached_tokens: 40,
      reasoning_tokens: 5,
    });
    expect(codexUsage({})).toEqual({ input_tokens: 0, output_tokens: 0 });
    expect(codexUsage(null)).toBeUndefined();
  });

  it('gemini json sums all models', () => {
    const stats = {
      models: {
        router: { tokens: { prompt: 10, input: 99, candidates: 1, cached: 2, thoughts: 3 } },
        main: { tokens: { prompt: 20, candidates: 4, cached: 0, thoughts: 1 } },
        broken: 'x',
      },
    };
    expect(geminiJsonUsage(stats)).toEqual({
      input_tokens: 30,
      output_tokens: 5,
      cached_tokens: 2,
      reasoning_tokens: 4,
    });
    expect(geminiJsonUsage({ models: {} })).toBeUndefined();
    expect(geminiJsonUsage({})).toBeUndefined();
  });

  it('gemini stream uses the totals', () => {
    expect(geminiStreamUsage({ input_tokens: 259, output_tokens: 19, cached: 0, input: 259 })).toEqual({
      input_tokens: 259,
      output_tokens: 19,
      cached_tokens: 0,
    });
    expect(geminiStreamUsage(undefined)).toBeUndefined();
  });

  it('negative, non-finite and non-numeric values count as 0', () => {
    expect(codexUsage({ input_tokens: -5, output_tokens: Number.NaN, cached_input_tokens: '7' })).toEqual({
      input_tokens: 0,
      output_tokens: 0,
    });
  });
});

describe('addUsage', () => {
  it('adds field-wise; undefined sides pass through', () => {
    expect(
      addUsage(
        { input_tokens: 1, output_tokens: 2, cached_tokens: 3 },
        { input_tokens: 4, output_tokens: 5, reasoning_tokens: 6 },
      ),
    ).toEqual({
      input_tokens: 5,
      output_tokens: 7,
      cached_tokens: 3,
      reasoning_tokens: 6,
    });
    expect(addUsage(undefined, { input_tokens: 1, output_tokens: 1 })).toEqual({ input_tokens: 1, output_tokens: 1 });
    expect(addUsage(undefined, undefined)).toBeUndefined();
  });
});
