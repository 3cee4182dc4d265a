/**
 * POST /api/v1/parallel: every task is validated first (all problems reported together), then the
 * tasks run ephemerally, at most `max_parallel` at a time; `fail_fast` stops the rest after a failure.
 */
import type { SchemaParallelRequest, SchemaParallelResult } from '../../../generated/types';
import type { PolicyHolder } from '../../auth/policy';
import type { ExecContext, ExecutionOptions } from '../types';
import { AggregateGate } from './gate';
import { inOrder, type ItemRunner } from './item-runner';
import { ProblemCollector } from './problems';
import type { AggregateItem, ItemObserver } from './types';

/** A validated parallel request, ready to run. */
export interface PreparedParallel {
  kind: 'parallel';
  body: SchemaParallelRequest;
  items: AggregateItem[];
  dryRun: boolean;
}

export async function prepareParallel(
  runner: ItemRunner,
  body: SchemaParallelRequest,
  who?: PolicyHolder,
): Promise<PreparedParallel> {
  const dryRun = runner.dryRun(body.dry_run);
  const problems = new ProblemCollector();
  const items: AggregateItem[] = [];
  for (const [i, task] of body.tasks.entries()) {
    const { ephemeral: _e, metadata: _m, output_format: _f, ...rest } = task;
    const prefix = `body.tasks[${i}]`;
    const opts: ExecutionOptions = { ...rest, ephemeral: true, dry_run: dryRun };
    const cwd = await runner.check({ ...opts, metadata: task.metadata }, prefix, task.workdir, problems, who);
    items.push({ opts, cwd: cwd ?? '', prefix });
  }
  problems.throwIfAny();
  return { kind: 'parallel', body, items, dryRun };
}

export async function runParallel(
  runner: ItemRunner,
  p: PreparedParallel,
  ctx: ExecContext,
  observer?: ItemObserver,
): Promise<SchemaParallelResult> {
  const { body, items, dryRun } = p;
  const { config } = runner;
  const failFast = body.fail_fast ?? config.parallel.fail_fast;
  const commands = await runner.commands(items.map((j) => j.opts.backend));
  // never more at once than the key may still run (its max_concurrent)
  const maxParallel = Math.max(
    1,
    Math.min(
      body.max_parallel ?? config.parallel.max_workers,
      config.server.max_concurrent_executions,
      await runner.executor.keyRoom(ctx),
    ),
  );
  const gate = new AggregateGate(ctx, runner.executor, observer, items.length);
  const results = await inOrder(items, maxParallel, async (item, index) => {
    const result = await runner.run(item, index, commands, gate, dryRun);
    // fail_fast: a failed task stops the rest (a canceled one is a consequence, not a cause)
    if (failFast && result.exit_code !== 0 && result.error_code !== 'canceled') gate.stop('fail_fast');
    return result;
  });
  gate.finish();

  const data: SchemaParallelResult = {
    total_tasks: items.length,
    completed: results.filter((r) => r.exit_code === 0).length,
    failed: results.filter((r) => r.exit_code !== 0 && r.error_code !== 'canceled').length,
    canceled: results.filter((r) => r.error_code === 'canceled').length,
    total_duration_ms: gate.totalDurationMs,
    results,
  };
  return runner.conclude('parallel', gate, ctx, data);
}
