/**
 * Error bodies in the three API styles. Pure: used by the Express error writer
 * and by the raw-socket `clientError` handler alike.
 */
import { anthropicErrorType, ApiError, NO_RETRY_CODES, openaiErrorType } from '../errors';
import type { ApiStyle } from './style';

/** `body.messages[0].content` → `messages[0].content`; other locations keep their prefix. */
function fieldOf(path: string): string {
  return path.startsWith('body.') ? path.slice(5) : path;
}

/** Message of a compat-style validation error: `<field>: <problem>`. */
function compatMessage(err: ApiError): string {
  const first = err.details?.[0];
  if (err.code === 'validation_error' && first) {
    return first.path === 'body' ? first.message : `${fieldOf(first.path)}: ${first.message}`;
  }
  return err.message;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export function errorResponse(style: ApiStyle, err: ApiError): ErrorResponse {
  const headers: Record<string, string> = { ...(err.headers ?? {}) };
  if (NO_RETRY_CODES.has(err.code)) headers['x-should-retry'] = 'false';
  let body: Record<string, unknown>;
  if (style === 'openai') {
    const first = err.details?.[0];
    body = {
      error: {
        message: compatMessage(err),
        type: openaiErrorType(err.code),
        param: first && first.path !== 'body' ? fieldOf(first.path) : null,
        code: err.code,
      },
    };
  } else if (style === 'anthropic') {
    body = { type: 'error', error: { type: anthropicErrorType(err.code), message: compatMessage(err) } };
  } else {
    body = { success: false, error: err.message, code: err.code };
    // `details` name the offending fields: validation problems, and options a policy refused.
    if ((err.code === 'validation_error' || err.code === 'option_not_allowed') && err.details?.length) {
      body.details = err.details;
    }
    if (err.data !== undefined) body.data = err.data;
  }
  return { status: err.status, headers, body };
}
