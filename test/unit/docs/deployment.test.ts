/**
 * The systemd unit printed in docs/deployment.md is a valid unit: `systemd-analyze verify` accepts
 * it without a warning where that command exists; elsewhere every key is checked against the
 * directives systemd knows for its section.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const doc = fs.readFileSync(path.join(__dirname, '../../../docs/deployment.md'), 'utf8');

function unitText(): string {
  const m = /<!-- unit:clinvk\.service[^>]*-->\n```ini\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/deployment.md: no ```ini block after the unit:clinvk.service marker');
  return m[1]!;
}

/** section → key → values, in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a unit line: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

// Directives of systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5) used or
// commonly used in a unit like this one.
const KNOWN: Record<string, string[]> = {
  Unit: ['Description', 'Documentation', 'After', 'Before', 'Wants', 'Requires', 'PartOf', 'ConditionPathExists'],
  Service: [
    'Type',
    'User',
    'Group',
    'WorkingDirectory',
    'Environment',
    'EnvironmentFile',
    'ExecStart',
    'ExecStartPre',
    'ExecReload',
    'ExecStop',
    'KillMode',
    'KillSignal',
    'TimeoutStopSec',
    'TimeoutStartSec',
    'Restart',
    'RestartSec',
    'RestartPreventExitStatus',
    'SuccessExitStatus',
    'LimitNOFILE',
    'NoNewPrivileges',
    'PrivateTmp',
    'ProtectSystem',
    'ProtectHome',
    'ProtectControlGroups',
    'ProtectKernelModules',
    'ProtectKernelTunables',
    'ReadWritePaths',
    'StateDirectory',
    'UMask',
  ],
  Install: ['WantedBy', 'RequiredBy', 'Alias'],
};

const unit = parseUnit(unitText());

test('the unit has the sections and keys a long-running clinvk service needs', () => {
  expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
  for (const [section, keys] of unit) {
    const unknown = [...keys.keys()].filter((k) => !KNOWN[section]!.includes(k));
    expect([section, unknown]).toEqual([section, []]);
  }
  const service = unit.get('Service')!;
  expect(service.get('ExecStart')![0]).toMatch(/^\/\S+\/node \S+\/bin\/clinvk\.js serve( |$)/);
  // The drain (server.shutdown_timeout_secs, default 30) plus the kill grace must fit before systemd kills.
  expect(Number(service.get('TimeoutStopSec')![0])).toBeGreaterThan(30 + 3);
  expect(service.get('KillSignal')).toEqual(['SIGTERM']);
  // Exit code 2 is a configuration error: restarting would loop.
  expect(service.get('RestartPreventExitStatus')).toEqual(['2']);
  // The CLIs keep their logins in the service user's home.
  expect(service.has('ProtectHome')).toBe(false);
  expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = analyze.status === 0;

(haveAnalyze ? test : test.skip)('systemd-analyze verify accepts the unit without a warning', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-unit-'));
  try {
    // verify checks that the executable exists: use this machine's node.
    const text = unitText().replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`);
    const file = path.join(dir, 'clinvk.service');
    fs.writeFileSync(file, text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    const problems = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => l.trim() !== '')
      // Outside a booted systemd (containers, CI) verify may complain about the manager itself.
      .filter((l) => !/Failed to (connect|create|initialize|setup)|System has not been booted|bus/i.test(l))
      .filter((l) => l.includes('clinvk.service'));
    expect([r.status, problems]).toEqual([0, []]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
