/**
 * POST /api/v1/compare: the same prompt, model and workdir on every listed backend (concurrently
 * unless `sequential`), ephemerally; unavailable backends are per-item failures.
 */
import type { SchemaCompareRequest, SchemaCompareResult } from '../../../generated/types';
import type { PolicyHolder } from '../../auth/policy';
import type { ExecContext } from '../types';
import { AggregateGate } from './gate';
import { inOrder, type ItemRunner } from './item-runner';
import { ProblemCollector } from './problems';
import type { AggregateItem, ItemObserver } from './types';

/** A validated compare request, ready to run. */
export interface PreparedCompare {
  kind: 'compare';
  body: SchemaCompareRequest;
  items: AggregateItem[];
  dryRun: boolean;
}

export async function prepareCompare(
  runner: ItemRunner,
  body: SchemaCompareRequest,
  who?: PolicyHolder,
): Promise<PreparedCompare> {
  const dryRun = runner.dryRun(body.dry_run);
  const problems = new ProblemCollector();
  const base = { prompt: body.prompt, model: body.model, workdir: body.workdir, ephemeral: true, dry_run: dryRun };
  // The prompt may assemble differently per backend (configured system prompts): check each once.
  for (const backend of new Set(body.backends)) {
    await problems.check(() => runner.planner.validate({ ...base, backend }, 'body', true, who));
  }
  const cwd = await problems.check(() =>
    runner.planner.checkSessionWorkdir(body.workdir ?? runner.config.server.default_workdir, 'body', who),
  );
  problems.throwIfAny();
  const items = body.backends.map((backend) => ({ opts: { ...base, backend }, cwd: cwd!, prefix: 'body' }));
  return { kind: 'compare', body, items, dryRun };
}

export async function runCompare(
  runner: ItemRunner,
  p: PreparedCompare,
  ctx: ExecContext,
  observer?: ItemObserver,
): Promise<SchemaCompareResult> {
  const { body, items, dryRun } = p;
  const commands = await runner.commands(body.backends);
  const gate = new AggregateGate(ctx, runner.executor, observer, items.length);
  // never more at once than the key may still run (its max_concurrent)
  const concurrency = Math.max(
    1,
    Math.min(
      body.sequential === true ? 1 : runner.config.server.max_concurrent_executions,
      await runner.executor.keyRoom(ctx),
    ),
  );
  const results = await inOrder(items, concurrency, (item, index) => runner.run(item, index, commands, gate, dryRun));
  gate.finish();

  const data: SchemaCompareResult = {
    prompt: body.prompt,
    backends: [...body.backends],
    total_duration_ms: gate.totalDurationMs,
    results,
  };
  return runner.conclude('compare', gate, ctx, data);
}
