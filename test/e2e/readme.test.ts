/**
 * The README quickstart with the real CLIs: every curl command of the README, run against clinvk
 * with the real claude/codex/gemini talking to the fake model provider, succeeds and answers what
 * the README shows — the same shape, and the same reply text (the provider answers like the fakes).
 */
import { runReadmeCurls } from '../helpers/readme';
import { BACKENDS, cliInfo, startE2E, type E2EEnv } from './helpers';

const clis = cliInfo();
const allUsable = BACKENDS.every((b) => clis[b].ok);
const check = allUsable ? test : test.skip;

describe('README quickstart with the real CLIs', () => {
  let env: E2EEnv;
  beforeAll(async () => {
    if (allUsable) env = await startE2E();
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });

  check('every curl command works and answers what the README shows', async () => {
    const { ran, pairs } = await runReadmeCurls(env.url);
    expect(ran).toBeGreaterThanOrEqual(6);
    // replies of the agents: the text the README shows
    const outputs = pairs
      .map(([got, shown]) => [
        (got as { data?: { output?: unknown } }).data?.output,
        (shown as { data?: { output?: unknown } }).data?.output,
      ])
      .filter(([, shown]) => typeof shown === 'string' && shown.startsWith('MOCK-REPLY: ')); // not a dry run's path
    expect(outputs.length).toBeGreaterThanOrEqual(1);
    for (const [got, shown] of outputs) expect(got).toBe(shown);
    expect(env.provider.outbound).toEqual([]);
  });
});
