/**
 * Typed errors shared by every layer. Lower layers throw `ApiError` with a machine code;
 * only the HTTP layer turns the code into a status and a style-specific body.
 */

export const ERROR_STATUS = {
  validation_error: 400,
  invalid_json: 400,
  unsupported_content: 400,
  ambiguous_session_id: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden_workdir: 403,
  forbidden_host: 403,
  forbidden_origin: 403,
  option_not_allowed: 403,
  backend_not_allowed: 403,
  not_found: 404,
  session_not_found: 404,
  job_not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  session_busy: 409,
  job_active: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  queue_full: 429,
  quota_exceeded: 429,
  key_concurrency_limit: 429,
  header_too_large: 431,
  internal_error: 500,
  backend_failed: 502,
  output_too_large: 502,
  backend_unavailable: 503,
  session_store_unavailable: 503,
  shutting_down: 503,
  backend_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Codes whose responses carry `x-should-retry: false`. */
export const NO_RETRY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'backend_failed',
  'output_too_large',
  'backend_unavailable',
  'backend_timeout',
  'shutting_down',
]);

/** One validation problem: `path` is `<location>.<field path>`. */
export interface ValidationDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details?: ValidationDetail[];
  /** Optional `data` of the native error envelope (e.g. the ExecutionResult of a failed run). */
  readonly data?: unknown;
  /** Extra response headers (e.g. `Allow`, `Retry-After`, `WWW-Authenticate`). */
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { details?: ValidationDetail[]; data?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.details = opts.details;
    this.data = opts.data;
    this.headers = opts.headers;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Builds a `validation_error` with the spec's message format. */
export function validationError(details: ValidationDetail[]): ApiError {
  const first = details[0] ?? { path: 'body', message: 'is invalid' };
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ApiError('validation_error', `request validation failed: ${first.path} ${first.message}${more}`, {
    details,
  });
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

// Error `type` of each code in the OpenAI and Anthropic error shapes (HTTP bodies and stream errors).
const OPENAI_TYPE: Partial<Record<ErrorCode, string>> = {
  unauthorized: 'invalid_request_error',
  forbidden_workdir: 'permission_error',
  forbidden_host: 'permission_error',
  forbidden_origin: 'permission_error',
  option_not_allowed: 'permission_error',
  backend_not_allowed: 'permission_error',
  rate_limited: 'rate_limit_error',
  queue_full: 'rate_limit_error',
  quota_exceeded: 'rate_limit_error',
  key_concurrency_limit: 'rate_limit_error',
};

const ANTHROPIC_TYPE: Partial<Record<ErrorCode, string>> = {
  unauthorized: 'authentication_error',
  forbidden_workdir: 'permission_error',
  forbidden_host: 'permission_error',
  forbidden_origin: 'permission_error',
  option_not_allowed: 'permission_error',
  backend_not_allowed: 'permission_error',
  not_found: 'not_found_error',
  model_not_found: 'not_found_error',
  payload_too_large: 'request_too_large',
  rate_limited: 'rate_limit_error',
  queue_full: 'rate_limit_error',
  quota_exceeded: 'rate_limit_error',
  key_concurrency_limit: 'rate_limit_error',
  shutting_down: 'overloaded_error',
};

export function openaiErrorType(code: ErrorCode): string {
  return OPENAI_TYPE[code] ?? (statusOf(code) >= 500 ? 'server_error' : 'invalid_request_error');
}

export function anthropicErrorType(code: ErrorCode): string {
  return ANTHROPIC_TYPE[code] ?? (statusOf(code) >= 500 ? 'api_error' : 'invalid_request_error');
}

function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
