import { claudeAdapter } from '../../../src/backends/claude';
import { codexAdapter } from '../../../src/backends/codex';
import { geminiAdapter } from '../../../src/backends/gemini';
import type { ApprovalMode, SandboxMode } from '../../../src/backends/types';
import { opts } from './fixtures';

const claude = claudeAdapter.buildArgs;
const codex = codexAdapter.buildArgs;
const gemini = geminiAdapter.buildArgs;

describe('claude argv (SPEC §5.4)', () => {
  it('minimal json run', () => {
    expect(claude(opts(), 'json')).toEqual(['-p', '--output-format', 'json', '--', 'hi']);
  });

  it('minimal stream run adds --verbose and --include-partial-messages', () => {
    expect(claude(opts(), 'stream')).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
      '--',
      'hi',
    ]);
  });

  it('the spec example (resume + model)', () => {
    const o = opts({ prompt: 'And times 3?', resumeId: '7d256075-0f66-4df5-85ec-711fe84e3f23', model: 'sonnet' });
    expect(claude(o, 'json')).toEqual([
      '-p',
      '--output-format',
      'json',
      '--resume=7d256075-0f66-4df5-85ec-711fe84e3f23',
      '--model',
      'sonnet',
      '--',
      'And times 3?',
    ]);
  });

  it('every option, in the normative order', () => {
    const o = opts({
      resumeId: 'sid',
      model: 'opus',
      approvalMode: 'auto',
      maxTurns: 3,
      systemPrompt: 'Be brief',
      allowedTools: 'Bash Edit',
      ephemeral: true,
      extra: ['--effort', 'high'],
      configExtraFlags: ['--bare'],
      sandboxMode: 'full',
      verbose: true,
      containerSandbox: true,
    });
    const tail = [
      '--resume=sid',
      '--model',
      'opus',
      '--permission-mode',
      'acceptEdits',
      '--max-turns',
      '3',
      '--system-prompt',
      'Be brief',
      '--allowedTools',
      'Bash Edit',
      '--no-session-persistence',
      '--effort',
      'high',
      '--bare',
      '--',
      'hi',
    ];
    expect(claude(o, 'json')).toEqual(['-p', '--output-format', 'json', ...tail]);
    expect(claude(o, 'stream')).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
      ...tail,
    ]);
  });

  it('append system prompt mode', () => {
    expect(claude(opts({ systemPrompt: 'S', systemPromptMode: 'append' }), 'json')).toEqual([
      '-p',
      '--output-format',
      'json',
      '--append-system-prompt',
      'S',
      '--',
      'hi',
    ]);
  });

  it.each<[ApprovalMode, string[]]>([
    ['default', []],
    ['auto', ['--permission-mode', 'acceptEdits']],
    ['none', ['--permission-mode', 'bypassPermissions']],
    ['always', ['--permission-mode', 'default']],
  ])('approval %s', (approvalMode, flags) => {
    expect(claude(opts({ approvalMode }), 'json')).toEqual(['-p', '--output-format', 'json', ...flags, '--', 'hi']);
  });

  it.each<SandboxMode>(['default', 'workspace', 'full'])('sandbox %s adds nothing', (sandboxMode) => {
    expect(claude(opts({ sandboxMode }), 'json')).toEqual(['-p', '--output-format', 'json', '--', 'hi']);
  });

  it.each<ApprovalMode>(['default', 'auto', 'none', 'always'])(
    'sandbox read-only is plan mode and wins over approval %s',
    (approvalMode) => {
      expect(claude(opts({ sandboxMode: 'read-only', approvalMode }), 'json')).toEqual([
        '-p',
        '--output-format',
        'json',
        '--permission-mode',
        'plan',
        '--',
        'hi',
      ]);
    },
  );

  it('ephemeral alone', () => {
    expect(claude(opts({ ephemeral: true }), 'json')).toEqual([
      '-p',
      '--output-format',
      'json',
      '--no-session-persistence',
      '--',
      'hi',
    ]);
  });

  it('max_turns 0 and empty system prompt add nothing', () => {
    expect(claude(opts({ maxTurns: 0, systemPrompt: '' }), 'json')).toEqual([
      '-p',
      '--output-format',
      'json',
      '--',
      'hi',
    ]);
  });

  it.each(['--help', '-rf /', '--dangerously-skip-permissions', 'hi; rm -rf ~ && $(reboot) > out'])(
    'prompt %j stays one literal argument after --',
    (prompt) => {
      const argv = claude(opts({ prompt }), 'json');
      expect(argv.slice(-2)).toEqual(['--', prompt]);
    },
  );

  it('bypassPermissions only for approval none; never --dangerously-*', () => {
    for (const approvalMode of ['default', 'auto', 'always'] as ApprovalMode[]) {
      const argv = claude(opts({ approvalMode }), 'stream');
      expect(argv.join(' ')).not.toMatch(/bypass|dangerously/);
    }
    expect(claude(opts({ approvalMode: 'none' }), 'stream').join(' ')).not.toMatch(/dangerously/);
  });

  it('a stored id that looks like a flag stays inside --resume=', () => {
    const argv = claude(opts({ resumeId: '--dangerously-skip-permissions' }), 'json');
    expect(argv).toContain('--resume=--dangerously-skip-permissions');
    expect(argv).not.toContain('--dangerously-skip-permissions');
  });
});

describe('codex argv (SPEC §5.5)', () => {
  const head = ['exec', '--json', '--skip-git-repo-check'];

  it('an allowed extra --skip-git-repo-check is not passed twice (clap rejects repeats)', () => {
    expect(codex(opts({ extra: ['--skip-git-repo-check', '--strict-config'] }), 'json')).toEqual([
      ...head,
      '--strict-config',
      '--',
      'hi',
    ]);
    expect(codex(opts({ configExtraFlags: ['--skip-git-repo-check'], resumeId: 'r1' }), 'json')).toEqual([
      ...head,
      'resume',
      '--',
      'r1',
      'hi',
    ]);
  });

  it('minimal new run; json and stream are identical', () => {
    expect(codex(opts(), 'json')).toEqual([...head, '--', 'hi']);
    expect(codex(opts(), 'stream')).toEqual([...head, '--', 'hi']);
  });

  it('every option of a new run', () => {
    const o = opts({
      approvalMode: 'none',
      model: 'gpt-5.5',
      sandboxMode: 'full',
      ephemeral: true,
      extra: ['--color', 'never'],
      configExtraFlags: ['--strict-config'],
      maxTurns: 5,
      verbose: true,
    });
    const expected = [
      '-a',
      'never',
      ...head,
      '-m',
      'gpt-5.5',
      '-s',
      'danger-full-access',
      '--ephemeral',
      '--color',
      'never',
      '--strict-config',
      '--',
      'hi',
    ];
    expect(codex(o, 'json')).toEqual(expected);
    expect(codex(o, 'stream')).toEqual(expected);
  });

  it('every option of a resume', () => {
    const o = opts({
      resumeId: '01a2194d-61d6-79b3-92bd-bd79400f084a',
      approvalMode: 'auto',
      model: 'gpt-5.5',
      sandboxMode: 'read-only',
      extra: ['--color', 'never'],
      configExtraFlags: ['--strict-config'],
    });
    const expected = [
      '-a',
      'never',
      ...head,
      '--color',
      'never',
      '--strict-config',
      'resume',
      '-m',
      'gpt-5.5',
      '-c',
      'sandbox_mode="read-only"',
      '--',
      '01a2194d-61d6-79b3-92bd-bd79400f084a',
      'hi',
    ];
    expect(codex(o, 'json')).toEqual(expected);
    expect(codex(o, 'stream')).toEqual(expected);
  });

  it('minimal resume (the verified form)', () => {
    expect(codex(opts({ resumeId: 'T' }), 'json')).toEqual([...head, 'resume', '--', 'T', 'hi']);
  });

  it('a stored id that looks like a flag is a positional after --', () => {
    const argv = codex(opts({ resumeId: '--dangerously-bypass-approvals-and-sandbox' }), 'json');
    expect(argv.slice(-3)).toEqual(['--', '--dangerously-bypass-approvals-and-sandbox', 'hi']);
  });

  it.each<[ApprovalMode, string[]]>([
    ['default', []],
    ['auto', ['-a', 'never']],
    ['none', ['-a', 'never']],
    ['always', ['-a', 'on-request']],
  ])('approval %s goes before exec', (approvalMode, flags) => {
    expect(codex(opts({ approvalMode }), 'json')).toEqual([...flags, ...head, '--', 'hi']);
    expect(codex(opts({ approvalMode, resumeId: 'T' }), 'json')).toEqual([
      ...flags,
      ...head,
      'resume',
      '--',
      'T',
      'hi',
    ]);
  });

  it.each<[SandboxMode, string[], string[]]>([
    ['default', [], []],
    ['read-only', ['-s', 'read-only'], ['-c', 'sandbox_mode="read-only"']],
    ['workspace', ['-s', 'workspace-write'], ['-c', 'sandbox_mode="workspace-write"']],
    ['full', ['-s', 'danger-full-access'], ['-c', 'sandbox_mode="danger-full-access"']],
  ])('sandbox %s', (sandboxMode, newFlags, resumeFlags) => {
    expect(codex(opts({ sandboxMode }), 'json')).toEqual([...head, ...newFlags, '--', 'hi']);
    expect(codex(opts({ sandboxMode, resumeId: 'T' }), 'json')).toEqual([
      ...head,
      'resume',
      ...resumeFlags,
      '--',
      'T',
      'hi',
    ]);
  });

  it('ephemeral alone', () => {
    expect(codex(opts({ ephemeral: true }), 'json')).toEqual([...head, '--ephemeral', '--', 'hi']);
  });

  it('the system prompt is not a flag (it is in the assembled prompt)', () => {
    expect(codex(opts({ systemPrompt: 'S' }), 'json')).toEqual([...head, '--', 'hi']);
  });

  it('a prompt that looks like a flag stays literal after --', () => {
    expect(codex(opts({ prompt: '--help' }), 'json').slice(-2)).toEqual(['--', '--help']);
  });
});

describe('gemini argv (SPEC §5.6)', () => {
  it('minimal json and stream runs', () => {
    expect(gemini(opts(), 'json')).toEqual(['--output-format=json', '--skip-trust', '--prompt=hi']);
    expect(gemini(opts(), 'stream')).toEqual(['--output-format=stream-json', '--skip-trust', '--prompt=hi']);
  });

  it('every option, in order', () => {
    const o = opts({
      resumeId: 'aa944a01-8b2c-4b30-9868-99d4fab34d98',
      model: 'gemini-3.8-flash',
      approvalMode: 'none',
      sandboxMode: 'workspace',
      containerSandbox: true,
      verbose: true,
      extra: ['--allowed-tools', 'run_shell_command'],
      configExtraFlags: ['--extensions', 'none'],
      maxTurns: 4,
      ephemeral: true,
    });
    expect(gemini(o, 'stream')).toEqual([
      '--output-format=stream-json',
      '--skip-trust',
      '--resume=aa944a01-8b2c-4b30-9868-99d4fab34d98',
      '--model=gemini-3.8-flash',
      '--approval-mode=yolo',
      '--sandbox',
      '--debug',
      '--allowed-tools',
      'run_shell_command',
      '--extensions',
      'none',
      '--prompt=hi',
    ]);
  });

  it.each<[ApprovalMode, string[]]>([
    ['default', []],
    ['auto', ['--approval-mode=auto_edit']],
    ['none', ['--approval-mode=yolo']],
    ['always', ['--approval-mode=default']],
  ])('approval %s', (approvalMode, flags) => {
    expect(gemini(opts({ approvalMode }), 'json')).toEqual([
      '--output-format=json',
      '--skip-trust',
      ...flags,
      '--prompt=hi',
    ]);
  });

  it.each<[SandboxMode, boolean, boolean]>([
    ['default', false, false],
    ['read-only', false, false],
    ['workspace', false, false],
    ['full', false, false],
    ['default', true, false],
    ['read-only', true, true],
    ['workspace', true, true],
    ['full', true, false],
  ])('sandbox %s with container_sandbox=%s → --sandbox: %s', (sandboxMode, containerSandbox, expected) => {
    const argv = gemini(opts({ sandboxMode, containerSandbox }), 'json');
    expect(argv).toEqual(['--output-format=json', '--skip-trust', ...(expected ? ['--sandbox'] : []), '--prompt=hi']);
  });

  it('ephemeral adds no flag; cleanup argv deletes the session', () => {
    expect(gemini(opts({ ephemeral: true }), 'json')).toEqual(['--output-format=json', '--skip-trust', '--prompt=hi']);
    expect(geminiAdapter.cleanupArgsAfterEphemeral?.('b4994bbd-dac6-4468-9ee8-7ba6052dbc4e')).toEqual([
      '--delete-session=b4994bbd-dac6-4468-9ee8-7ba6052dbc4e',
      '--skip-trust',
    ]);
  });

  it('a prompt starting with - is one --prompt= argument, last', () => {
    expect(gemini(opts({ prompt: '-x --yolo' }), 'json')).toEqual([
      '--output-format=json',
      '--skip-trust',
      '--prompt=-x --yolo',
    ]);
  });

  it('never uses --yolo, --color or a positional prompt', () => {
    const argv = gemini(opts({ approvalMode: 'none', verbose: true }), 'stream');
    expect(argv).not.toContain('--yolo');
    expect(argv.some((a) => a.includes('color'))).toBe(false);
    expect(argv.every((a) => a.startsWith('--'))).toBe(true);
  });
});

describe('only gemini has an ephemeral cleanup', () => {
  it('claude and codex have none', () => {
    expect(claudeAdapter.cleanupArgsAfterEphemeral).toBeUndefined();
    expect(codexAdapter.cleanupArgsAfterEphemeral).toBeUndefined();
  });
});
