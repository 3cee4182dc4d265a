/**
 * Routing and request validation on the hot path, built on openapi-backend's operations and its
 * compiled Ajv validators.
 *
 * openapi-backend's own `handleRequest` rebuilds its list of operations (a lodash chain over the
 * whole document) several times per request, compiles a regex per operation and path to match,
 * and parses the request four times. Here the operations are compiled once into a table, the
 * answer for each (method, raw path) is kept in a bounded LRU cache (path parameters are part of
 * the cached answer, so they are always those of that exact path), and a routed request is parsed
 * and validated once with the very validators openapi-backend compiles. The matching rules are
 * openapi-backend's: an exact path with the method first, then path templates ordered by the
 * length of their literal part, longest first. See docs/architecture.md ("Request flow").
 */
import type OpenAPIBackend from 'openapi-backend';
import type { Context, Operation } from 'openapi-backend';
import type { ErrorObject } from 'ajv';
import type { ValidationDetail } from '../errors';

/** What the hot path needs to know about one operation, computed once. */
export interface CompiledOperation {
  operation: Operation;
  operationId: string;
  /** Lower case, as openapi-backend keeps it. */
  method: string;
  /** The path template (`/api/v1/sessions/{id}`): the route label of metrics and the access log. */
  path: string;
  /** The operation declares a request body. */
  takesBody: boolean;
  /** Declared query parameters; others are ignored (not validated, not passed on). */
  queryNames: ReadonlySet<string>;
  /** Declared query parameters of array type (a single value becomes a one-element array). */
  arrayQuery: ReadonlySet<string>;
  /** Declared header parameters, lower case. */
  headerNames: readonly string[];
  /**
   * Whether `validate` reproduces openapi-backend exactly for this operation: no cookie parameters
   * and no query parameters with a serialisation of their own (`content`, `explode: false`).
   * Other operations go through openapi-backend's `handleRequest`.
   */
  fast: boolean;
  /** openapi-backend's template pattern (`{x}` → `[^/]+`). */
  matcher: RegExp;
  /** Length of the literal part of the template (specificity). */
  literalLength: number;
  /** Capturing pattern and names of the path parameters. */
  paramPattern: RegExp;
  paramNames: string[];
}

export type RouteMatch =
  | { kind: 'operation'; op: CompiledOperation; params: Record<string, string>; malformed: ValidationDetail[] }
  | { kind: 'method_not_allowed'; allowed: string[]; route: string }
  | { kind: 'not_found' };

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface ParamObject {
  in?: string;
  name?: string;
  explode?: boolean;
  content?: unknown;
  schema?: { type?: unknown };
}

/**
 * A Map used as a least-recently-used cache of at most `max` entries: a hit moves the entry to
 * the end, an insert past the limit drops the oldest.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }
}

/** Entries in the (method, path) cache. Paths longer than MAX_CACHED_PATH are matched, not cached. */
export const ROUTE_CACHE_SIZE = 2048;
const MAX_CACHED_PATH = 512;

export class OperationTable {
  private readonly ops: CompiledOperation[];
  private readonly byId = new Map<string, CompiledOperation>();
  private readonly cache = new LruCache<string, RouteMatch>(ROUTE_CACHE_SIZE);

  constructor(private readonly api: OpenAPIBackend) {
    // The document is fixed once openapi-backend is initialised: compute its operation list once
    // (openapi-backend recomputes it on every getOperations/getOperation/matchOperation call,
    // which its handleRequest and validateRequest make several times per request).
    const operations = api.router.getOperations();
    api.router.getOperations = () => operations;
    this.ops = operations.map(compile);
    for (const op of this.ops) this.byId.set(op.operationId, op);
  }

  operation(operationId: string): CompiledOperation | undefined {
    return this.byId.get(operationId);
  }

  /** The answer for a request: operation with its path parameters, 405 with the allowed methods, or 404. */
  match(method: string, path: string): RouteMatch {
    const m = method === 'HEAD' ? 'GET' : method;
    const key = `${m} ${path}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const answer = this.compute(m, path);
    if (path.length <= MAX_CACHED_PATH) this.cache.set(key, answer);
    return answer;
  }

  get cachedRoutes(): number {
    return this.cache.size;
  }

  private compute(method: string, path: string): RouteMatch {
    const op = this.find(method, path);
    if (op) {
      const { params, malformed } = pathParams(op, this.normalize(path));
      return { kind: 'operation', op, params, malformed };
    }
    const allowed = METHODS.filter((x) => this.find(x, path) !== undefined);
    if (allowed.length === 0) return { kind: 'not_found' };
    const route = this.find(allowed[0]!, path)!.path;
    if (allowed.includes('GET')) allowed.splice(allowed.indexOf('GET') + 1, 0, 'HEAD');
    return { kind: 'method_not_allowed', allowed, route };
  }

  private normalize(path: string): string {
    return this.api.router.normalizePath(path);
  }

  /** openapi-backend's matchOperation (non-strict) over the compiled table. */
  private find(method: string, path: string): CompiledOperation | undefined {
    if (!path.startsWith(this.api.router.apiRoot)) return undefined;
    const normalized = this.normalize(path);
    const lower = method.toLowerCase();
    const exact = this.ops.find((o) => o.path === normalized && o.method === lower);
    if (exact) return exact;
    const candidates = this.ops.filter((o) => o.matcher.test(normalized));
    // stable sort: equally specific templates keep the document's order
    candidates.sort((a, b) => b.literalLength - a.literalLength);
    return candidates.find((o) => o.method === lower);
  }

  /**
   * Parses and validates a routed request the way openapi-backend's handleRequest does, and
   * returns the handler's context; `errors` is set when validation failed. Only for `op.fast`
   * operations and a body that is absent or already an object (the body guard's JSON).
   */
  validate(
    op: CompiledOperation,
    params: Record<string, string>,
    rawQuery: Record<string, string | string[]>,
    headers: Record<string, string | string[] | undefined>,
    body: unknown,
    method: string,
    path: string,
  ): { context: Context; errors: ErrorObject[] | null } {
    const query: Record<string, string | string[]> = {};
    for (const k in rawQuery) {
      if (!op.queryNames.has(k)) continue;
      const v = rawQuery[k]!;
      query[k] = typeof v === 'string' && op.arrayQuery.has(k) ? [v] : v;
    }
    const header: Record<string, string | string[]> = {};
    for (const h of op.headerNames) {
      const v = headers[h];
      if (v !== undefined) header[h] = v;
    }
    const parameters: Record<string, unknown> = { path: { ...params }, query, header, cookie: {} };
    if (op.takesBody) parameters.requestBody = body;
    let errors: ErrorObject[] | null = null;
    for (const v of this.api.validator.getRequestValidatorsForOperation(op.operationId) ?? []) {
      v(parameters);
      if (v.errors) (errors ??= []).push(...v.errors);
    }
    const context = {
      api: this.api,
      operation: op.operation,
      request: {
        method: method.toLowerCase(),
        path,
        params,
        // coerced by the validator (`limit=5` → 5)
        query,
        headers,
        cookies: {},
        requestBody: body,
        body,
      },
      validation: { valid: errors === null, errors },
    } as unknown as Context;
    return { context, errors };
  }
}

function compile(operation: Operation): CompiledOperation {
  const parameters = (operation.parameters ?? []) as ParamObject[];
  const queryParams = parameters.filter((p) => p.in === 'query');
  const template = operation.path;
  const paramNames: string[] = [];
  const paramPattern = new RegExp(
    '^' +
      template.replace(/\{([A-Za-z0-9_-]+)\}/g, (_m, name: string) => {
        paramNames.push(name);
        return '([^\\/]*)';
      }) +
      '$',
  );
  return {
    operation,
    operationId: operation.operationId!,
    method: operation.method,
    path: template,
    takesBody: operation.requestBody !== undefined,
    queryNames: new Set(queryParams.map((p) => p.name!)),
    arrayQuery: new Set(queryParams.filter((p) => p.schema?.type === 'array').map((p) => p.name!)),
    headerNames: parameters.filter((p) => p.in === 'header').map((p) => p.name!.toLowerCase()),
    fast:
      !parameters.some((p) => p.in === 'cookie') &&
      queryParams.every((p) => p.content === undefined && p.explode !== false),
    matcher: new RegExp(`^${template.replace(/\{.*?\}/g, '[^/]+')}$`),
    literalLength: template.replace(/\{.*?\}/g, '').length,
    paramPattern,
    paramNames,
  };
}

/**
 * The path parameters of a routed path, percent-decoded. A raw segment that is not valid
 * percent-encoding (`%ff` is not UTF-8, `%`, `%zz`) is reported as `path.<name>` instead.
 */
function pathParams(
  op: CompiledOperation,
  normalizedPath: string,
): { params: Record<string, string>; malformed: ValidationDetail[] } {
  const params: Record<string, string> = {};
  const malformed: ValidationDetail[] = [];
  const m = op.paramPattern.exec(normalizedPath);
  op.paramNames.forEach((name, i) => {
    const raw = m?.[i + 1];
    if (raw === undefined) return;
    try {
      params[name] = decodeURIComponent(raw);
    } catch {
      malformed.push({ path: `path.${name}`, message: 'must be valid percent-encoded UTF-8' });
    }
  });
  return { params, malformed };
}
