/**
 * What the OpenAI and Anthropic handlers share: the ignored-params header, the execution context,
 * and running a compat request as JSON or as an SSE stream.
 */
import type { Response } from 'express';
import { ignoredParams, ignoredParamsHeaderValue, type CompatApi } from '../../compat/models';
import type { CompatKey, CompatRun } from '../../compat/request';
import { SSE_CONTENT_TYPE, SSE_HEADERS, type SseEncoder } from '../../compat/sse';
import type { ExecutionResult } from '../../execution/types';
import type { Services } from '../../services';
import { ctxOf, principalOf } from '../../http/request-context';
import { execContext } from '../../http/exec-context';
import { sendJson } from '../../http/respond';
import { frameSink, openStream } from '../../http/stream';

/** Sets `X-Clinvk-Ignored-Params` (also kept on error responses) and logs the names at debug. */
export function markIgnoredParams(s: Services, res: Response, body: Record<string, unknown>, api: CompatApi): void {
  const names = ignoredParams(body, api);
  const value = ignoredParamsHeaderValue(names);
  if (value === undefined) return;
  res.setHeader('X-Clinvk-Ignored-Params', value);
  s.logger.debug('ignored request fields', { request_id: ctxOf(res).requestId, api, params: names });
}

/** The request's API key and the configured default modes, for a compat run's routing and modes. */
export function compatKey(s: Services, res: Response): CompatKey {
  return { who: principalOf(res), defaultModes: (backend) => s.planner.defaultModes(backend) };
}

/** Runs `run` and answers JSON (`toBody` builds the 200 body) or, with an encoder, an SSE stream. */
export async function executeCompat(
  s: Services,
  res: Response,
  run: CompatRun,
  mode: { encoder: SseEncoder } | { toBody: (result: ExecutionResult) => Record<string, unknown> },
): Promise<void> {
  const ctx = ctxOf(res);
  ctx.backend = run.route.backend;
  const exec = execContext(res);
  if ('encoder' in mode) {
    const { encoder } = mode;
    const sink = frameSink(
      res,
      () => {
        openStream(res, SSE_CONTENT_TYPE, { ...SSE_HEADERS });
        res.write(encoder.start());
      },
      (ev) => encoder.encode(ev),
    );
    await s.prompt.stream(run.request, exec, sink);
    return;
  }
  const result = await s.prompt.execute(run.request, exec);
  ctx.exitCode = result.exit_code;
  sendJson(res, 200, mode.toBody(result));
}
