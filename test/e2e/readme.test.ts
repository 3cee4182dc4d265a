/**
 * The README quickstart with the real CLIs: every curl command of the README, run against clinvk
 * with the real claude/codex/gemini talking to the fake model provider, succeeds and answers what
 * the README shows — the same shape, and the same reply text (the provider answers like the fakes).
 */
import { runReadmeCurls } from '../helpers/readme';
import { describeAllCLIs } from './helpers';

describeAllCLIs('README quickstart with the real CLIs', (check, env) => {
  check('every curl command works and answers what the README shows', async () => {
    const { ran, pairs } = await runReadmeCurls(env().url);
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
    expect(env().provider.outbound).toEqual([]);
  });
});
