/**
 * POST /api/v1/prompt (executePrompt: JSON, or NDJSON when the effective output format is
 * `stream-json`, kept for compatibility) and POST /api/v1/prompt/stream (streamPrompt: always NDJSON).
 */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import type { PromptRequest, PromptService } from '../../execution/prompt-service';
import type { ExecutionResult } from '../../execution/types';
import { ctxOf } from '../../http/request-context';
import { execContext } from '../../http/exec-context';
import { sendData } from '../../http/respond';
import { ndjsonSink } from '../../http/stream';
import type { HandlerFn } from '../../http/handler';

function promptHandler(service: PromptService, stream: (body: PromptRequest) => boolean): HandlerFn {
  return async (c: Context, req: Request, res: Response) => {
    const body = c.request.requestBody as PromptRequest;
    const ctx = ctxOf(res);
    ctx.backend = body.backend;
    const exec = execContext(res, stream(body) ? 'stream' : 'prompt');
    const result: ExecutionResult = stream(body)
      ? await service.stream(body, exec, ndjsonSink(res))
      : await service.execute(body, exec);
    ctx.backend = result.backend;
    ctx.sessionId = result.session_id;
    ctx.exitCode = result.exit_code;
    if (res.headersSent) return;
    sendData(res, result, result.session_id ? { 'X-Clinvk-Session-Id': result.session_id } : {});
  };
}

export function executePrompt(service: PromptService): HandlerFn {
  return promptHandler(service, (body) => service.isStream(body));
}

/** The request schema already restricts `output_format` to absent or `stream-json`. */
export function streamPrompt(service: PromptService): HandlerFn {
  return promptHandler(service, () => true);
}
