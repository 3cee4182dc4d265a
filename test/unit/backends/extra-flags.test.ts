import { ADAPTERS } from '../../../src/backends/adapters';
import {
  ALLOW_LIST_ENTRY_PATTERN,
  checkExtraFlags,
  parseAllowList,
  valueSatisfies,
} from '../../../src/backends/extra-flags';
import type { BackendName } from '../../../src/backends/types';

const check = (backend: BackendName, tokens: unknown[]) =>
  checkExtraFlags(backend, tokens, ADAPTERS[backend].extraFlags, 'body.extra');

describe('checkExtraFlags — SPEC §9 rows 15–20', () => {
  it('row 15: claude --dangerously-skip-permissions', () => {
    expect(check('claude', ['--dangerously-skip-permissions'])).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for claude: --dangerously-skip-permissions' },
    ]);
  });

  it('row 16: gemini --yolo, --approval-mode=yolo; codex -c sandbox_mode=…', () => {
    expect(check('gemini', ['--yolo'])).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for gemini: --yolo' },
    ]);
    expect(check('gemini', ['--approval-mode=yolo'])).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for gemini: --approval-mode=yolo' },
    ]);
    expect(check('codex', ['-c', 'sandbox_mode=danger-full-access'])).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for codex: -c' },
      { path: 'body.extra[1]', message: 'unexpected argument: sandbox_mode=danger-full-access' },
    ]);
  });

  it('row 17: claude --add-dir /etc', () => {
    expect(check('claude', ['--add-dir', '/etc'])).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for claude: --add-dir' },
      { path: 'body.extra[1]', message: 'unexpected argument: /etc' },
    ]);
  });

  it('row 18: --effort without value, --effort=ludicrous, --bare=1', () => {
    expect(check('claude', ['--effort'])).toEqual([
      { path: 'body.extra[0]', message: 'flag --effort requires a value' },
    ]);
    expect(check('claude', ['--effort=ludicrous'])).toEqual([
      {
        path: 'body.extra[0]',
        message: 'invalid value for --effort: ludicrous (must be one of: low, medium, high, xhigh, max)',
      },
    ]);
    expect(check('claude', ['--strict-mcp-config=1'])).toEqual([
      { path: 'body.extra[0]', message: 'flag --strict-mcp-config does not take a value: --strict-mcp-config=1' },
    ]);
  });

  it('row 19: a value that looks like a flag', () => {
    expect(check('claude', ['--fallback-model', '--dangerously-skip-permissions'])).toEqual([
      {
        path: 'body.extra[1]',
        message: 'value for --fallback-model must not start with "-": --dangerously-skip-permissions',
      },
    ]);
  });

  it('row 20: bare token, --, non-string item, 33 tokens', () => {
    expect(check('claude', ['hello'])).toEqual([{ path: 'body.extra[0]', message: 'unexpected argument: hello' }]);
    expect(check('claude', ['--'])).toEqual([{ path: 'body.extra[0]', message: '"--" is not allowed' }]);
    expect(check('claude', ['--strict-mcp-config', 5])).toEqual([
      { path: 'body.extra[1]', message: 'must be a string' },
    ]);
    expect(
      check(
        'claude',
        Array.from({ length: 33 }, () => '--strict-mcp-config'),
      ),
    ).toEqual([{ path: 'body.extra', message: 'must have at most 32 items' }]);
    expect(
      check(
        'claude',
        Array.from({ length: 32 }, () => '--strict-mcp-config'),
      ),
    ).toEqual([]);
  });
});

describe('checkExtraFlags — accepted forms', () => {
  it.each<[BackendName, string[]]>([
    ['claude', []],
    ['claude', ['--effort', 'high']],
    ['claude', ['--effort=max', '--strict-mcp-config']],
    ['claude', ['--append-system-prompt', 'Answer in French.']],
    ['claude', ['--disallowedTools', 'Bash(git:*) Edit', '--disallowed-tools=WebFetch']],
    ['claude', ['--fallback-model', 'claude-sonnet-5', '--fallback-model=sonnet']],
    ['claude', ['--max-budget-usd', '0.50', '--max-budget-usd=3']],
    ['claude', ['--json-schema', '{"type":"object"}']],
    ['claude', ['--betas', 'a-1,b.2_c']],
    ['claude', ['--strict-mcp-config', '--disable-slash-commands', '--exclude-dynamic-system-prompt-sections']],
    ['codex', ['--color=never', '--strict-config', '--skip-git-repo-check']],
    ['gemini', ['--allowed-mcp-server-names', 'a(b),c:d', '-e', 'none', '--debug', '-d']],
    ['gemini', ['--allowed-mcp-server-names=a,b', '--extensions', 'x y']],
  ])('%s %j', (backend, tokens) => {
    expect(check(backend, tokens)).toEqual([]);
  });
});

describe('checkExtraFlags — value rules and token rules', () => {
  it.each<[string[], string]>([
    [['--max-budget-usd', '0'], 'invalid value for --max-budget-usd: 0 (must be a decimal number greater than 0)'],
    [['--max-budget-usd', '1e3'], 'invalid value for --max-budget-usd: 1e3 (must be a decimal number greater than 0)'],
    [['--json-schema', '{nope'], 'invalid value for --json-schema: {nope (must be JSON text)'],
    [['--betas', 'a b'], 'invalid value for --betas: a b (must match /^[A-Za-z0-9,._-]+$/)'],
    [
      ['--fallback-model', 'sonnet --yolo'],
      'invalid value for --fallback-model: sonnet --yolo (must be a valid model name)',
    ],
    [['--effort='], 'value for --effort must not be empty'],
    [['--effort=-x'], 'value for --effort must not start with "-": -x'],
  ])('claude %j', (tokens, message) => {
    const details = check('claude', tokens);
    expect(details.map((d) => d.message)).toEqual([message]);
  });

  it('codex color rule', () => {
    expect(check('codex', ['--color', 'sometimes']).map((d) => d.message)).toEqual([
      'invalid value for --color: sometimes (must be one of: always, never, auto)',
    ]);
  });

  it('gemini value rule rejects shell metacharacters', () => {
    expect(check('gemini', ['--extensions', 'run_shell_command;rm'])).toHaveLength(1);
  });

  it('permission-widening flags are not on the built-in lists (operators can add them back)', () => {
    const widening: Record<BackendName, string[]> = {
      claude: ['--allowedTools', '--allowed-tools', '--tools', '--bare', '--safe-mode', '--add-dir'],
      codex: ['-p', '--profile'],
      gemini: ['--allowed-tools'],
    };
    for (const [backend, flags] of Object.entries(widening) as [BackendName, string[]][]) {
      for (const flag of flags) {
        expect(check(backend, [flag, 'x'])[0]).toEqual({
          path: 'body.extra[0]',
          message: `flag not allowed for ${backend}: ${flag}`,
        });
      }
    }
    const allow = parseAllowList(['--allowedTools <tools>']);
    expect(checkExtraFlags('claude', ['--allowedTools', 'Bash'], allow, 'body.extra')).toEqual([]);
  });

  it('flag names are case-sensitive and exact', () => {
    expect(check('claude', ['--Bare', '--bar', '--bare-x']).map((d) => d.message)).toEqual([
      'flag not allowed for claude: --Bare',
      'flag not allowed for claude: --bar',
      'flag not allowed for claude: --bare-x',
    ]);
  });

  it('the deliberately not allowed flags are rejected', () => {
    const denied: Record<BackendName, string[]> = {
      claude: [
        ...['--allow-dangerously-skip-permissions', '--permission-mode', '--model', '--system-prompt', '--max-turns'],
        ...['--resume', '--continue', '--session-id', '--output-format', '--print', '-p', '--verbose'],
        ...['--allowedTools', '--tools', '--bare', '--safe-mode'],
        ...['--no-session-persistence', '--add-dir', '--mcp-config', '--settings', '--plugin-dir', '--worktree'],
      ],
      codex: [
        ...[
          '-p',
          '--profile',
          '-c',
          '--config',
          '--enable',
          '--disable',
          '-s',
          '--sandbox',
          '-a',
          '--add-dir',
          '-C',
          '--cd',
        ],
        ...['--dangerously-bypass-approvals-and-sandbox', '-i', '-o', '--ephemeral', '--json', '-m', '--oss'],
        ...['--full-auto', '--quiet', '--ask-for-approval', '--trust', '--remote'],
      ],
      gemini: [
        ...[
          '--allowed-tools',
          '--yolo',
          '-y',
          '--approval-mode',
          '--sandbox',
          '--include-directories',
          '--resume',
          '--prompt',
        ],
        ...['--model', '--skip-trust', '--delete-session', '--list-sessions', '--color', '--disable-color'],
      ],
    };
    for (const [backend, flags] of Object.entries(denied) as [BackendName, string[]][]) {
      for (const flag of flags) {
        expect(check(backend, [flag])).toEqual([
          { path: 'body.extra[0]', message: `flag not allowed for ${backend}: ${flag}` },
        ]);
      }
    }
  });

  it('short-flag lookalikes and combined short flags are not flags', () => {
    expect(check('codex', ['-p=work', '-rf']).map((d) => d.message)).toEqual([
      'flag not allowed for codex: -p=work',
      'flag not allowed for codex: -rf',
    ]);
  });

  it('size and character limits', () => {
    const details = check('claude', [
      '',
      'é'.repeat(2049),
      'a\u0000b',
      '\ud800',
      '--append-system-prompt',
      'x'.repeat(4096),
    ]);
    expect(details).toEqual([
      { path: 'body.extra[0]', message: 'must not be empty' },
      { path: 'body.extra[1]', message: 'must be at most 4096 bytes' },
      { path: 'body.extra[2]', message: 'must not contain U+0000' },
      { path: 'body.extra[3]', message: 'must be well-formed Unicode' },
    ]);
  });

  it('reports every problem with its own index and the custom path prefix', () => {
    const details = checkExtraFlags(
      'claude',
      ['--strict-mcp-config', 'x', null, '--effort'],
      ADAPTERS.claude.extraFlags,
      'body.steps[1].extra',
    );
    expect(details).toEqual([
      { path: 'body.steps[1].extra[1]', message: 'unexpected argument: x' },
      { path: 'body.steps[1].extra[2]', message: 'must be a string' },
      { path: 'body.steps[1].extra[3]', message: 'flag --effort requires a value' },
    ]);
  });

  it('a value token is consumed even when it is bad (no double report)', () => {
    expect(check('claude', ['--effort', 7, '--strict-mcp-config'])).toEqual([
      { path: 'body.extra[1]', message: 'must be a string' },
    ]);
  });

  it('the next flag is not swallowed as a value', () => {
    expect(check('claude', ['--effort', '--strict-mcp-config'])).toEqual([
      { path: 'body.extra[1]', message: 'value for --effort must not start with "-": --strict-mcp-config' },
    ]);
  });
});

describe('parseAllowList', () => {
  it('parses booleans and value-taking flags', () => {
    expect(parseAllowList(['--bare', '--effort <level>', '-p <v>', '-d', '--allowedTools <tools>'])).toEqual([
      { name: '--bare', takesValue: false },
      { name: '--effort', takesValue: true, rule: { kind: 'any' } },
      { name: '-p', takesValue: true, rule: { kind: 'any' } },
      { name: '-d', takesValue: false },
      { name: '--allowedTools', takesValue: true, rule: { kind: 'any' } },
    ]);
  });

  it('a configured list replaces the built-in one', () => {
    const allow = parseAllowList(['--effort <v>', '--dangerously-skip-permissions']);
    expect(
      checkExtraFlags('claude', ['--effort', 'ludicrous', '--dangerously-skip-permissions'], allow, 'body.extra'),
    ).toEqual([]);
    expect(checkExtraFlags('claude', ['--bare'], allow, 'body.extra')).toEqual([
      { path: 'body.extra[0]', message: 'flag not allowed for claude: --bare' },
    ]);
  });

  it('an empty list allows nothing', () => {
    expect(parseAllowList([])).toEqual([]);
    expect(checkExtraFlags('codex', ['--strict-config'], [], 'body.extra')).toHaveLength(1);
  });

  it.each([
    '',
    'bare',
    '-',
    '--',
    '---x',
    '--x=1',
    '-ab',
    '--x <v> <w>',
    '--x  <v>',
    '--x v',
    '--x <>',
    ' --x',
    '--x <v>\n',
    '--a b',
  ])('rejects %j', (entry) => {
    expect(() => parseAllowList([entry])).toThrow(/invalid allowed_extra_flags entry \[0\]/);
  });

  it('rejects non-strings with a clear message', () => {
    expect(() => parseAllowList(['--ok', 5 as unknown as string])).toThrow(
      'invalid allowed_extra_flags entry [1] 5: expected "--flag" or "--flag <value>"',
    );
  });

  it('ALLOW_LIST_ENTRY_PATTERN agrees with the parser', () => {
    const re = new RegExp(ALLOW_LIST_ENTRY_PATTERN);
    expect(re.test('--effort <v>')).toBe(true);
    expect(re.test('--effort v')).toBe(false);
  });
});

describe('valueSatisfies', () => {
  it('positive decimals', () => {
    for (const v of ['1', '0.5', '10.25']) expect(valueSatisfies({ kind: 'positive-decimal' }, v)).toBe(true);
    for (const v of ['0', '0.0', '-1', '.5', '1.', 'abc', 'Infinity', '']) {
      expect(valueSatisfies({ kind: 'positive-decimal' }, v)).toBe(false);
    }
  });
  it('undefined rule means any', () => {
    expect(valueSatisfies(undefined, 'anything at all')).toBe(true);
  });
});
