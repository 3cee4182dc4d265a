/** The typed errors every SessionStore implementation throws (mapped to HTTP by the http layer). */
import { ApiError } from '../errors';

export function storeUnavailable(reason: string): ApiError {
  return new ApiError('session_store_unavailable', `session store unavailable: ${reason}`);
}

export function sessionNotFound(input: string): ApiError {
  return new ApiError('session_not_found', `session not found: ${input}`);
}

export function sessionBusy(id: string): ApiError {
  return new ApiError('session_busy', `session ${id} is busy: a turn is already running`);
}

export function ambiguousSessionId(input: string, matches: number): ApiError {
  return new ApiError('ambiguous_session_id', `ambiguous session id prefix "${input}": matches ${matches} sessions`);
}

/** An unreadable record or an unexpected failure: no details leak to the client. */
export function storeInternalError(): ApiError {
  return new ApiError('internal_error', 'internal server error');
}
