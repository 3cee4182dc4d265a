/** POST /api/v1/prompt (executePrompt): JSON or NDJSON stream. */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import type { PromptRequest, PromptService } from '../../execution/prompt-service';
import { ctxOf } from '../../http/request-context';
import { execContext } from '../../http/exec-context';
import { sendData } from '../../http/respond';
import { ndjsonSink } from '../../http/stream';
import type { HandlerFn } from '../types';

export function executePrompt(service: PromptService): HandlerFn {
  return async (c: Context, req: Request, res: Response) => {
    const body = c.request.requestBody as PromptRequest;
    const ctx = ctxOf(res);
    ctx.backend = body.backend;
    const exec = execContext(res);
    const result = service.isStream(body)
      ? await service.stream(body, exec, ndjsonSink(res))
      : await service.execute(body, exec);
    ctx.backend = result.backend;
    ctx.sessionId = result.session_id;
    ctx.exitCode = result.exit_code;
    if (res.headersSent) return;
    sendData(res, result, result.session_id ? { 'X-Clinvk-Session-Id': result.session_id } : {});
  };
}
