/**
 * What a job's inner request must pass before it is stored: the same semantic checks as its
 * synchronous operation (a prompt's session is resolved now, so the job continues exactly that
 * session), with validation detail paths reported under `body.request`.
 */
import type { PolicyHolder } from '../auth/policy';
import type { BackendName } from '../backends/types';
import { ApiError, type ValidationDetail, validationError } from '../errors';
import type { AggregateService, Prepared } from '../execution/aggregate';
import type { PromptRequest, PromptService } from '../execution/prompt-service';
import type { JobOperation } from './types';

export interface CreateJobInput {
  operation: JobOperation;
  request: Record<string, unknown>;
}

/** Checks a job's inner request against its synchronous operation's schema (the HTTP layer does it). */
export type SchemaCheck = (operation: JobOperation, request: Record<string, unknown>) => ValidationDetail[];

export interface AdmittedRequest {
  /** The request as stored (a prompt's resolved session id filled in). */
  request: Record<string, unknown>;
  summary: string;
  backend?: BackendName;
  sessionId?: string;
  /** Executions the job needs (a prompt 1, an aggregate one per item): its owner's quota must cover them. */
  items: number;
}

const SUMMARY_CHARS = 200;

export async function admitJobRequest(
  input: CreateJobInput,
  prompt: PromptService,
  aggregates: AggregateService,
  who: PolicyHolder,
): Promise<AdmittedRequest> {
  const request = input.request;
  try {
    if (input.operation === 'prompt') {
      const req = request as PromptRequest;
      if (req.output_format !== undefined && req.output_format !== 'json') {
        throw validationError([
          { path: 'body.output_format', message: 'must be json (a job always records its events)' },
        ]);
      }
      // as its creator: a session of another key is "not found"
      const checked = await prompt.check(req, who);
      const stored = checked.sessionId ? { ...request, session_id: checked.sessionId } : request;
      return {
        request: stored,
        summary: truncate(req.prompt, SUMMARY_CHARS),
        backend: checked.backend,
        sessionId: checked.sessionId,
        items: 1,
      };
    }
    const prepared = await aggregates.prepare(input.operation, request as never, who);
    return { request, summary: aggregateSummary(prepared), items: prepared.dryRun ? 0 : prepared.items.length };
  } catch (err) {
    throw withRequestPrefix(err);
  }
}

/** The first `max` characters (code points, never half a surrogate pair). */
function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

function aggregateSummary(p: Prepared): string {
  if (p.kind === 'parallel') return `${p.items.length} tasks`;
  if (p.kind === 'chain') return `${p.items.length} steps`;
  return `${p.items.length} backends`;
}

/** Detail paths of the inner request are reported under `body.request`. */
function withRequestPrefix(err: unknown): unknown {
  if (!(err instanceof ApiError) || !err.details) return err;
  const details = err.details.map((d) => ({ ...d, path: d.path.replace(/^body/, 'body.request') }));
  if (err.code === 'validation_error') return validationError(details);
  // option_not_allowed names the refused field too
  if (err.code === 'option_not_allowed') return new ApiError(err.code, err.message, { details });
  return err;
}
