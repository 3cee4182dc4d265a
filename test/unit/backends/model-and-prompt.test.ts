import { ADAPTERS } from '../../../src/backends/adapters';
import { assemblePrompt, isValidModel, MODEL_PATTERN, resolveModel } from '../../../src/backends/model-and-prompt';

const { claude, codex, gemini } = ADAPTERS;

describe('resolveModel (SPEC §5.2 alias table)', () => {
  it.each<[string, string, string, string]>([
    ['fast', 'haiku', 'gpt-5.5', 'gemini-3.8-flash'],
    ['quick', 'haiku', 'gpt-5.5', 'gemini-3.8-flash'],
    ['balanced', 'sonnet', 'gpt-6.2-sol', 'gemini-3.8-flash'],
    ['best', 'opus', 'gpt-6.2-sol', 'gemini-3.1-pro-preview'],
    ['powerful', 'opus', 'gpt-6.2-sol', 'gemini-3.1-pro-preview'],
  ])('%s → claude %s, codex %s, gemini %s', (alias, c, x, g) => {
    expect(resolveModel(claude, alias)).toBe(c);
    expect(resolveModel(codex, alias)).toBe(x);
    expect(resolveModel(gemini, alias)).toBe(g);
  });

  it('default and absent mean no --model', () => {
    for (const a of [claude, codex, gemini]) {
      expect(resolveModel(a, 'default')).toBeUndefined();
      expect(resolveModel(a, undefined)).toBeUndefined();
    }
  });

  it('any other string is passed as is; aliases are case-sensitive', () => {
    expect(resolveModel(claude, 'claude-sonnet-5')).toBe('claude-sonnet-5');
    expect(resolveModel(claude, 'Fast')).toBe('Fast');
    expect(resolveModel(codex, 'constructor')).toBe('constructor');
    expect(resolveModel(codex, 'toString')).toBe('toString');
  });

  it('a configured map replaces the built-in one (synonyms still apply)', () => {
    const map = { fast: 'my-fast', custom: 'my-custom' };
    expect(resolveModel(claude, 'fast', map)).toBe('my-fast');
    expect(resolveModel(claude, 'quick', map)).toBe('my-fast');
    expect(resolveModel(claude, 'custom', map)).toBe('my-custom');
    expect(resolveModel(claude, 'best', map)).toBe('best');
    expect(resolveModel(claude, 'powerful', map)).toBe('powerful');
    expect(resolveModel(claude, 'default', map)).toBeUndefined();
  });

  it('an explicit synonym entry wins over the synonym rule', () => {
    expect(resolveModel(gemini, 'quick', { fast: 'a', quick: 'b' })).toBe('b');
  });

  it('an alias whose target is "default" means no --model', () => {
    expect(resolveModel(codex, 'balanced', { balanced: 'default' })).toBeUndefined();
  });
});

describe('assemblePrompt (SPEC §5.2 system prompt)', () => {
  it('claude keeps the system prompt as a flag', () => {
    expect(assemblePrompt(claude, 'hi', 'Be brief')).toEqual({ prompt: 'hi', systemPromptFlag: 'Be brief' });
  });

  it.each([
    ['codex', codex],
    ['gemini', gemini],
  ])('%s gets the instructions block prepended', (_name, adapter) => {
    expect(assemblePrompt(adapter, 'hi', 'Be brief')).toEqual({
      prompt: '[System instructions]\nBe brief\n[End of system instructions]\n\nhi',
    });
  });

  it('no (or an empty) system prompt leaves the prompt unchanged', () => {
    for (const a of [claude, codex, gemini]) {
      expect(assemblePrompt(a, 'hi')).toEqual({ prompt: 'hi' });
      expect(assemblePrompt(a, 'hi', '')).toEqual({ prompt: 'hi' });
    }
  });
});

describe('model pattern (SPEC §3.1)', () => {
  it.each(['sonnet', 'claude-opus-4-8[1m]', 'gpt-5.5', 'models/gemini-3.8-flash', 'a:b@c+d', 'x'.repeat(200), '1'])(
    'accepts %j',
    (m) => {
      expect(isValidModel(m)).toBe(true);
    },
  );

  it.each([
    '',
    '--dangerously-skip-permissions',
    '-m',
    'sonnet --yolo',
    ' sonnet',
    'a\nb',
    'x'.repeat(201),
    '.hidden',
    'a;b',
    'a\u0000',
  ])('rejects %j', (m) => {
    expect(isValidModel(m)).toBe(false);
  });

  it('rejects non-strings; the exported regex is the spec one', () => {
    expect(isValidModel(5)).toBe(false);
    expect(isValidModel(undefined)).toBe(false);
    expect(MODEL_PATTERN.source).toBe('^[A-Za-z0-9][A-Za-z0-9._:/@+\\[\\]-]*$');
  });

  it('every built-in alias target is a valid model', () => {
    for (const a of [claude, codex, gemini]) {
      for (const target of Object.values(a.modelAliases)) expect(isValidModel(target)).toBe(true);
    }
  });
});
