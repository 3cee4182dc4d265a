import { BackendAvailability } from '../../../src/backends/availability';
import type { Config } from '../../../src/config/types';
import { StatusService } from '../../../src/execution/status';
import type { ExecutionLimiter } from '../../../src/execution/limiter';
import type { SessionStore, StoreHealth } from '../../../src/sessions/types';

describe('StatusService /health', () => {
  const backends = {
    claude: { enabled: true, command: '/nonexistent/claude' },
    codex: { enabled: true, command: '/nonexistent/codex' },
    gemini: { enabled: true, command: '/nonexistent/gemini' },
  };
  const config = { backends } as unknown as Config;
  const limiter = { running: 0, queued: 0, maxConcurrent: 4, maxQueued: 8 } as unknown as ExecutionLimiter;

  function service(answers: StoreHealth[], ttlMs: number) {
    let calls = 0;
    const store = {
      health: async () => answers[Math.min(calls++, answers.length - 1)]!,
    } as unknown as SessionStore;
    const availability = new BackendAvailability({ backends, ttlMs: 60_000 });
    const s = new StatusService(config, availability, store, limiter, '1.0.0', Date.now(), undefined, undefined, ttlMs);
    return { s, calls: () => calls };
  }

  test('the session-store check answers for storeCheckTtlMs, then is made again', async () => {
    const { s, calls } = service(
      [
        { available: true, session_count: 1 },
        { available: false, session_count: 0, error: 'EACCES: permission denied' },
      ],
      150,
    );
    const [a, b] = await Promise.all([s.health(), s.health()]);
    expect(calls()).toBe(1);
    expect(a.session_store).toEqual({ available: true, session_count: 1 });
    expect(b.session_store).toEqual({ available: true, session_count: 1 });
    await new Promise((r) => setTimeout(r, 200));
    const c = await s.health();
    expect(calls()).toBe(2);
    expect(c.status).toBe('unhealthy');
    expect(c.session_store).toEqual({ available: false, session_count: 0, error: 'EACCES: permission denied' });
  });

  test('without a TTL every request checks the store', async () => {
    const { s, calls } = service([{ available: true, session_count: 0 }], 0);
    await s.health();
    await s.health();
    expect(calls()).toBe(2);
  });
});
