/**
 * POST /api/v1/chain: the steps run sequentially and ephemerally; from step 2 on, `{{previous}}`
 * in a prompt becomes the previous step's output (even a failed one's).
 */
import type {
  SchemaChainRequest,
  SchemaChainResult,
  SchemaChainStepResult,
  SchemaTaskResult,
} from '../../../generated/types';
import type { PolicyHolder } from '../../auth/policy';
import type { ExecContext, ExecutionOptions } from '../types';
import { AggregateGate } from './gate';
import { chainItem, failedItem } from './items';
import type { ItemRunner } from './item-runner';
import { ProblemCollector } from './problems';
import type { AggregateItem, ItemObserver } from './types';

/** A validated chain request, ready to run. */
export interface PreparedChain {
  kind: 'chain';
  body: SchemaChainRequest;
  items: AggregateItem[];
  dryRun: boolean;
}

const EPHEMERAL_ONLY = 'chains are always ephemeral';

export async function prepareChain(
  runner: ItemRunner,
  body: SchemaChainRequest,
  who?: PolicyHolder,
): Promise<PreparedChain> {
  const dryRun = runner.dryRun(body.dry_run);
  const problems = new ProblemCollector();
  const items: AggregateItem[] = [];
  let previousCwd: string | undefined;
  for (const [i, step] of body.steps.entries()) {
    const { name: _n, ...rest } = step;
    const prefix = `body.steps[${i}]`;
    if (step.prompt.includes('{{session}}')) {
      problems.add(`${prefix}.prompt`, `must not contain {{session}} (${EPHEMERAL_ONLY})`);
    }
    const opts: ExecutionOptions = { ...rest, ephemeral: true, dry_run: dryRun };
    let cwd: string | undefined;
    if (step.workdir === undefined && body.pass_working_dir === true && i > 0) {
      await runner.check(opts, prefix, undefined, problems, who, true);
      cwd = previousCwd;
    } else {
      cwd = await runner.check(opts, prefix, step.workdir, problems, who);
    }
    previousCwd = cwd;
    items.push({ opts, cwd: cwd ?? '', prefix });
  }
  if (body.pass_session_id === true) problems.add('body.pass_session_id', `must be false (${EPHEMERAL_ONLY})`);
  if (body.persist_sessions === true) problems.add('body.persist_sessions', `must be false (${EPHEMERAL_ONLY})`);
  problems.throwIfAny();
  return { kind: 'chain', body, items, dryRun };
}

export async function runChain(
  runner: ItemRunner,
  p: PreparedChain,
  ctx: ExecContext,
  observer?: ItemObserver,
): Promise<SchemaChainResult> {
  const { body, items, dryRun } = p;
  const commands = await runner.commands(items.map((j) => j.opts.backend));
  const gate = new AggregateGate(ctx, runner.executor, observer, items.length);
  const results: SchemaChainStepResult[] = [];
  let previous = '';
  for (const [i, item] of items.entries()) {
    if (gate.stopped) break;
    const step = body.steps[i];
    const prompt = i > 0 ? item.opts.prompt.split('{{previous}}').join(previous) : item.opts.prompt;
    const invalid =
      prompt === item.opts.prompt ? undefined : await runner.substitutionProblem({ ...item.opts, prompt }, item.prefix);
    let result: SchemaTaskResult;
    if (invalid !== undefined) {
      result = failedItem(item.opts.backend, 'validation_error', invalid);
      observer?.finished(i, result);
    } else {
      result = await runner.run({ ...item, opts: { ...item.opts, prompt } }, i, commands, gate, dryRun);
    }
    results.push(chainItem(i + 1, step.name, result));
    previous = result.output;
    if (result.exit_code !== 0 && body.stop_on_failure === true) break;
  }
  gate.finish();

  const failed = results.filter((r) => r.exit_code !== 0);
  const data = {
    total_steps: items.length,
    completed_steps: results.filter((r) => r.exit_code === 0).length,
  } as SchemaChainResult;
  if (failed.length > 0) data.failed_step = failed[failed.length - 1].step;
  data.total_duration_ms = gate.totalDurationMs;
  data.results = results;
  return runner.conclude('chain', gate, ctx, data);
}
