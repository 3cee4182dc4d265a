import { defaultConfig } from '../../../src/config/defaults';
import type { Config } from '../../../src/config/types';
import { ApiError } from '../../../src/errors';
import {
  approvalRank,
  enforcementProblem,
  ModePolicy,
  sandboxRank,
  type EnforcementFacts,
} from '../../../src/security/modes';
import { securityStartupProblems } from '../../../src/security/startup';

type Over = { backends?: Record<string, Record<string, unknown>>; unified_flags?: Record<string, unknown> };

function config(over: Over = {}): Config {
  const c = defaultConfig();
  Object.assign(c.unified_flags, over.unified_flags ?? {});
  for (const [b, v] of Object.entries(over.backends ?? {})) Object.assign(c.backends[b as 'claude'], v);
  return c;
}

const facts =
  (f: Partial<EnforcementFacts> = {}) =>
  (): EnforcementFacts => ({ containerSandbox: false, runsAsRoot: false, claudeIsSandboxed: false, ...f });

function refusal(fn: () => unknown): { code: string; path?: string; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { code: err.code, path: err.details?.[0]?.path, message: err.message };
  }
}

describe('ranks: default takes the rank of what each CLI does without a flag', () => {
  test('approval', () => {
    expect(approvalRank('claude', 'default')).toBe(approvalRank('claude', 'always'));
    expect(approvalRank('gemini', 'default')).toBe(approvalRank('gemini', 'always'));
    expect(approvalRank('codex', 'default')).toBe(approvalRank('codex', 'none'));
    expect(approvalRank('codex', 'always')).toBeLessThan(approvalRank('codex', 'auto'));
    expect(approvalRank('codex', 'auto')).toBeLessThan(approvalRank('codex', 'none'));
  });
  test('sandbox', () => {
    expect(sandboxRank('codex', 'default')).toBe(sandboxRank('codex', 'read-only'));
    expect(sandboxRank('claude', 'default')).toBe(sandboxRank('claude', 'workspace'));
    expect(sandboxRank('gemini', 'default')).toBe(sandboxRank('gemini', 'full'));
  });
});

describe('ceilings', () => {
  test('the review reproduction: codex configured always/read-only, request none/full → 403', () => {
    const p = new ModePolicy(
      config({ backends: { codex: { approval_mode: 'always', sandbox_mode: 'read-only' } } }),
      facts(),
    );
    expect(refusal(() => p.check('codex', 'none', 'full', 'body'))).toEqual({
      code: 'option_not_allowed',
      path: 'body.approval_mode',
      message: 'approval_mode none is more permissive than the ceiling for codex (always)',
    });
    expect(refusal(() => p.check('codex', 'always', 'full', 'body'))?.path).toBe('body.sandbox_mode');
    expect(refusal(() => p.check('codex', 'always', 'workspace', 'body.tasks[2]'))?.path).toBe(
      'body.tasks[2].sandbox_mode',
    );
    // Equal or stricter is fine; `default` means the configured value.
    expect(p.check('codex', 'always', 'read-only', 'body')).toEqual({ approval: 'always', sandbox: 'read-only' });
    expect(p.check('codex', 'default', 'default', 'body')).toEqual({ approval: 'always', sandbox: 'read-only' });
    expect(p.check('codex', undefined, undefined, 'body')).toEqual({ approval: 'always', sandbox: 'read-only' });
  });

  test('without configuration the ceiling is each CLI default', () => {
    const p = new ModePolicy(config(), facts());
    // gemini approval none (yolo) is more permissive than its default.
    expect(refusal(() => p.check('gemini', 'none', undefined, 'body'))?.path).toBe('body.approval_mode');
    expect(refusal(() => p.check('claude', 'auto', undefined, 'body'))?.path).toBe('body.approval_mode');
    // codex exec already runs with approval never: auto/none/always are all within it.
    for (const a of ['always', 'auto', 'none'] as const)
      expect(refusal(() => p.check('codex', a, undefined, 'b'))).toBe(undefined);
    expect(refusal(() => p.check('codex', undefined, 'workspace', 'body'))?.path).toBe('body.sandbox_mode');
    expect(refusal(() => p.check('claude', undefined, 'full', 'body'))?.path).toBe('body.sandbox_mode');
    expect(refusal(() => p.check('claude', undefined, 'read-only', 'body'))).toBeUndefined();
  });

  test('max_*_mode raises the ceiling above the default', () => {
    const p = new ModePolicy(config({ backends: { gemini: { max_approval_mode: 'none' } } }), facts());
    expect(p.check('gemini', 'none', undefined, 'body')).toEqual({ approval: 'none', sandbox: 'default' });
    expect(p.check('gemini', undefined, undefined, 'body')).toEqual({ approval: 'default', sandbox: 'default' });
  });

  test('unified_flags count as the configured mode', () => {
    const p = new ModePolicy(config({ unified_flags: { approval_mode: 'auto' } }), facts());
    expect(p.ceiling('claude')).toEqual({ approval: 'auto', sandbox: 'default' });
    expect(refusal(() => p.check('claude', 'none', undefined, 'body'))?.path).toBe('body.approval_mode');
  });
});

describe('what a CLI cannot enforce', () => {
  test('gemini read-only/workspace need container_sandbox', () => {
    expect(enforcementProblem('gemini', 'default', 'read-only', facts()())?.field).toBe('sandbox_mode');
    expect(enforcementProblem('gemini', 'default', 'workspace', facts()())?.field).toBe('sandbox_mode');
    expect(enforcementProblem('gemini', 'default', 'read-only', facts({ containerSandbox: true })())).toBeUndefined();
    const p = new ModePolicy(config(), facts());
    expect(refusal(() => p.check('gemini', undefined, 'read-only', 'body'))).toEqual({
      code: 'option_not_allowed',
      path: 'body.sandbox_mode',
      message: 'gemini cannot enforce sandbox_mode read-only without backends.gemini.container_sandbox',
    });
  });

  test('claude approval none (bypassPermissions) is refused when the agent would run as root', () => {
    const cfg = config({ backends: { claude: { max_approval_mode: 'none' } } });
    expect(
      refusal(() => new ModePolicy(cfg, facts({ runsAsRoot: true })).check('claude', 'none', undefined, 'b')),
    ).toMatchObject({ code: 'option_not_allowed', path: 'b.approval_mode' });
    expect(new ModePolicy(cfg, facts()).check('claude', 'none', undefined, 'b').approval).toBe('none');
    expect(
      new ModePolicy(cfg, facts({ runsAsRoot: true, claudeIsSandboxed: true })).check('claude', 'none', undefined, 'b')
        .approval,
    ).toBe('none');
    // read-only is plan mode: no bypass flag is rendered.
    expect(enforcementProblem('claude', 'none', 'read-only', facts({ runsAsRoot: true })())).toBeUndefined();
  });
});

describe('start-up', () => {
  test('a configured default gemini cannot enforce stops start-up, naming the key to set', () => {
    const p = new ModePolicy(config({ unified_flags: { sandbox_mode: 'read-only' } }), facts());
    expect(p.startupProblems()).toEqual([
      'config error: backends.gemini.sandbox_mode: gemini cannot enforce sandbox_mode read-only without backends.gemini.container_sandbox (set backends.gemini.sandbox_mode for it)',
    ]);
    const fixed = config({
      unified_flags: { sandbox_mode: 'read-only' },
      backends: { gemini: { sandbox_mode: 'full', max_sandbox_mode: 'full' } },
    });
    expect(new ModePolicy(fixed, facts()).startupProblems()).toEqual([]);
    const disabled = config({ unified_flags: { sandbox_mode: 'read-only' }, backends: { gemini: { enabled: false } } });
    expect(new ModePolicy(disabled, facts()).startupProblems()).toEqual([]);
  });

  test('a default above its own ceiling is an error', () => {
    const p = new ModePolicy(
      config({ backends: { codex: { sandbox_mode: 'full', max_sandbox_mode: 'workspace' } } }),
      facts(),
    );
    expect(p.startupProblems()).toEqual([
      'config error: backends.codex.sandbox_mode: the default sandbox mode (full) is more permissive than backends.codex.max_sandbox_mode (workspace)',
    ]);
  });

  test('non-loopback bind without keys, unknown agent user', () => {
    const c = config();
    c.server.host = '0.0.0.0';
    expect(securityStartupProblems(c, { hasKeys: false, asRoot: false })).toEqual([
      expect.stringMatching(/^config error: server\.host: binding to non-loopback address 0\.0\.0\.0 without API keys/),
    ]);
    expect(securityStartupProblems(c, { hasKeys: true, asRoot: false })).toEqual([]);
    // a worker serves no API: exempt
    expect(securityStartupProblems(c, { hasKeys: false, asRoot: false, role: 'worker' })).toEqual([]);
    c.server.allow_unauthenticated = true;
    expect(securityStartupProblems(c, { hasKeys: false, asRoot: false })).toEqual([]);
    c.server.agent_user = 'no-such-user-clinvk';
    expect(securityStartupProblems(c, { hasKeys: false, asRoot: true })).toEqual([
      'config error: server.agent_user: no such user: no-such-user-clinvk',
    ]);
  });
});
