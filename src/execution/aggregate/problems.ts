/**
 * Collects the validation problems of every item of an aggregate request, so that all of them are
 * reported together: 400 `validation_error` with every detail, else the first 403 (semantic
 * validation comes before the policies: workdir, the API key's backends and options). Other
 * errors are not problems and propagate.
 */
import { ApiError, ValidationDetail, validationError } from '../../errors';

/** Policy refusals (403): the first one is reported when no item has a validation problem. */
const FORBIDDEN: ReadonlySet<string> = new Set(['forbidden_workdir', 'backend_not_allowed', 'option_not_allowed']);

export class ProblemCollector {
  private readonly details: ValidationDetail[] = [];
  private readonly forbidden: ApiError[] = [];

  /** A problem found by the aggregate itself. */
  add(path: string, message: string): void {
    this.details.push({ path, message });
  }

  /** Runs a check; its validation or policy error is collected, anything else is rethrown. */
  async check<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.collect(err);
      return undefined;
    }
  }

  collect(err: unknown): void {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'validation_error')
      this.details.push(...(err.details ?? [{ path: 'body', message: err.message }]));
    else if (FORBIDDEN.has(err.code)) this.forbidden.push(err);
    else throw err;
  }

  /** Throws the collected outcome, if any; identical details are reported once. */
  throwIfAny(): void {
    if (this.details.length > 0) throw validationError(dedupe(this.details));
    if (this.forbidden.length > 0) throw this.forbidden[0];
  }
}

function dedupe(problems: ValidationDetail[]): ValidationDetail[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
