/** All three real CLIs at once through clinvk: a parallel request (and a job where jobs exist). */
import { expectMatchesSpec } from '../helpers/contract';
import { BACKENDS, describeAllCLIs, expectStatus, postJson, uniquePrompt } from './helpers';
import { mockReply } from './provider';

describeAllCLIs('all three CLIs through clinvk', (check, env) => {
  check('a parallel request runs claude, codex and gemini side by side', async () => {
    const tasks = BACKENDS.map((backend) => ({ backend, prompt: uniquePrompt(`parallel ${backend}`) }));
    const res = await postJson(`${env().url}/api/v1/parallel`, { tasks, max_parallel: 3 });
    expectStatus(res, 200);
    expectMatchesSpec('executeParallel', 200, res.body);
    const results = res.body.data.results as { backend: string; output: string; exit_code: number }[];
    expect(results.map((r) => [r.backend, r.exit_code, r.output])).toEqual(
      tasks.map((t) => [t.backend, 0, mockReply(t.prompt)]),
    );
  });

  check('no CLI tried to reach the internet', () => {
    expect(env().provider.outbound).toEqual([]);
  });
});
