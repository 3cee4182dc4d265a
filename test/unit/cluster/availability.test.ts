/**
 * Backend availability of a cluster API node: what the live workers report (a directory read from
 * Redis in production; here the reports themselves).
 */
import { ClusterAvailability, type WorkerDirectory, type WorkerReport } from '../../../src/cluster/workers';
import { decodeEntry, encodeEntry, nodeQueue } from '../../../src/cluster/run-protocol';

function directory(reports: WorkerReport[] | Error): WorkerDirectory {
  return {
    live: () => (reports instanceof Error ? Promise.reject(reports) : Promise.resolve(reports)),
  } as unknown as WorkerDirectory;
}

const enabled = { claude: { enabled: true }, codex: { enabled: true }, gemini: { enabled: false } };

function worker(node: string, over: Partial<WorkerReport> = {}): WorkerReport {
  return {
    node,
    slots: 4,
    running: 0,
    draining: false,
    backends: [
      {
        name: 'claude',
        enabled: true,
        available: true,
        command: `/opt/${node}/claude`,
        version: '2.1.0',
        verified: true,
      },
      {
        name: 'codex',
        enabled: true,
        available: false,
        reason: 'backend "codex" is not available: "codex" not found on PATH',
      },
      { name: 'gemini', enabled: false, available: false },
    ],
    ...over,
  };
}

test('available when a live worker reports it, with that worker’s command and version', async () => {
  const a = new ClusterAvailability(directory([worker('w1')]), enabled);
  expect(await a.check('claude')).toEqual({
    name: 'claude',
    enabled: true,
    available: true,
    command: '/opt/w1/claude',
    version: '2.1.0',
    verified: true,
  });
});

test('unavailable with the workers’ own reason, or because no worker is live or taking runs', async () => {
  expect(await new ClusterAvailability(directory([worker('w1')]), enabled).check('codex')).toEqual({
    name: 'codex',
    enabled: true,
    available: false,
    reason: 'backend "codex" is not available: "codex" not found on PATH',
  });
  expect(await new ClusterAvailability(directory([]), enabled).check('claude')).toEqual({
    name: 'claude',
    enabled: true,
    available: false,
    reason: 'backend "claude" is not available: no live worker',
  });
  // a draining worker takes no runs
  expect(
    (await new ClusterAvailability(directory([worker('w1', { draining: true })]), enabled).check('claude')).available,
  ).toBe(false);
  expect(
    (await new ClusterAvailability(directory(new Error('connection closed')), enabled).check('claude')).reason,
  ).toBe('backend "claude" is not available: cluster coordination unavailable (redis: connection closed)');
});

test('a backend disabled in the API node’s configuration is disabled whatever the workers say', async () => {
  expect(await new ClusterAvailability(directory([worker('w1')]), enabled).check('gemini')).toEqual({
    name: 'gemini',
    enabled: false,
    available: false,
    reason: 'backend "gemini" is disabled',
  });
});

test('one live worker is enough; checkAll answers in the fixed backend order', async () => {
  const w2 = worker('w2');
  w2.backends[0] = { name: 'claude', enabled: true, available: false, reason: 'x' };
  const all = await new ClusterAvailability(directory([w2, worker('w1')]), enabled).checkAll();
  expect(all.map((b) => [b.name, b.available, b.command])).toEqual([
    ['claude', true, '/opt/w1/claude'],
    ['codex', false, undefined],
    ['gemini', false, undefined],
  ]);
});

test('run stream entries round-trip; anything else is no entry', () => {
  const e = { t: 'line', l: '{"type":"x"}' } as const;
  expect(decodeEntry(encodeEntry(e))).toEqual(e);
  expect(decodeEntry('not json')).toBeUndefined();
  expect(decodeEntry('42')).toBeUndefined();
  expect(decodeEntry('{"no":"type"}')).toBeUndefined();
  expect(nodeQueue('w1')).toBe('run@w1');
});
