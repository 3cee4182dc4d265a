/**
 * Versions in `/api/v1/backends` and `/health`: read in the background once per executable, never
 * awaited by a request; a version outside the verified range is a warning, not a status change.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger';
import { FAKE_BIN, makeTestApp, makeTestServer, waitFor } from '../helpers/server';

test('a version outside the verified range: verified false in the list, a warning in /health, status unchanged', async () => {
  const t = await makeTestApp({ backends: { codex: { env: { FAKE_CLI_VERSION: '0.200.1' } } } });
  try {
    await request(t.app).get('/health');
    await t.bundle.services.versions.settled();
    const list = await request(t.app).get('/api/v1/backends');
    expectMatchesSpec('listBackends', list.status, list.body);
    expect(list.body.data.backends[1]).toEqual({
      name: 'codex',
      available: true,
      enabled: true,
      command: path.join(FAKE_BIN, 'codex'),
      version: '0.200.1',
      verified: false,
    });
    const health = await request(t.app).get('/health');
    expectMatchesSpec('healthCheck', health.status, health.body);
    expect(health.body.status).toBe('ok');
    expect(health.body.backends).toEqual([
      { name: 'claude', available: true, enabled: true },
      {
        name: 'codex',
        available: true,
        enabled: true,
        warnings: [
          'version 0.200.1 is outside the verified range 0.17x (clinvk is tested with 0.171.0; it still runs)',
        ],
      },
      { name: 'gemini', available: true, enabled: true },
    ]);
    // `--version` ran once per executable, however often the status was asked for.
    const probes = t.log().filter((e) => e.event === 'start' && e.argv?.[0] === '--version');
    expect(probes.map((e) => e.cli).sort()).toEqual(['claude', 'codex', 'gemini']);
    expect(t.starts()).toEqual([]);
  } finally {
    await t.close();
  }
});

test('a slow --version never holds up a request', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-slow-'));
  const slow = path.join(dir, 'slow-gemini');
  fs.writeFileSync(slow, '#!/bin/sh\nsleep 8\necho 0.61.0\n', { mode: 0o755 });
  const u = await makeTestApp({ backends: { gemini: { command: slow } } });
  try {
    const t0 = Date.now();
    const list = await request(u.app).get('/api/v1/backends');
    const health = await request(u.app).get('/health');
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(list.body.data.backends[2]).toEqual({ name: 'gemini', available: true, enabled: true, command: slow });
    expect(health.body.backends[2]).toEqual({ name: 'gemini', available: true, enabled: true });
  } finally {
    await u.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('start-up warns about a missing backend with its install command and about an unverified version', async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', stream, json: true });
  const s = await makeTestServer(
    { backends: { codex: { command: '/nonexistent/codex' }, gemini: { env: { FAKE_CLI_VERSION: '0.70.0' } } } },
    { logger },
  );
  try {
    await s.server.services.versions.settled();
    const logged = lines.map((l) => JSON.parse(l) as { level: string; message: string; install?: string });
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message:
          'backend "codex" is not available: "/nonexistent/codex" not found; install it with: npm install -g @openai/codex@0.171.0 (then run \'clinvk doctor\')',
        install: 'npm install -g @openai/codex@0.171.0',
      }),
    );
    await waitFor(() => logged.length > 0 && lines.some((l) => l.includes('outside the verified range')));
    expect(lines.map((l) => JSON.parse(l).message)).toContain(
      'backend "gemini": version 0.70.0 is outside the verified range 0.61.x (clinvk is tested with 0.61.0; it still runs)',
    );
  } finally {
    await s.close();
  }
});
