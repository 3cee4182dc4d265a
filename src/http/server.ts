/**
 * The Node HTTP server around the app: timeouts and header limits, the raw-socket
 * `clientError` writer (400/408/431 in the path's style) and graceful shutdown.
 */
// first: keeps V8's young generation small while the modules below load (see startup-heap.ts)
import { releaseYoungGeneration } from './startup-heap';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/types';
import { ApiError, ErrorCode } from '../errors';
import { ADAPTERS } from '../backends/adapters';
import { installCommand } from '../backends/onboarding';
import { versionWarnings } from '../backends/version-probe';
import { KILL_SHUTDOWN } from '../execution/executor';
import { buildHandlers } from '../handlers';
import type { Logger } from '../observability/logger';
import { startRetention } from '../sessions/retention';
import { buildServices, type ServiceOptions, type Services } from '../services';
import { createApp } from './app';
import { errorResponse } from './error-body';
import { buildGuards } from './middleware/guards';
import { apiStyleOf } from './style';
import { sendError } from './respond';
import type { RequestHandler } from 'express';

export const MAX_HEADER_BYTES = 16 * 1024;

export interface AppBundle {
  app: Awaited<ReturnType<typeof createApp>>['app'];
  services: Services;
  /** Stops timers and closes the store (tests). */
  close(): Promise<void>;
}

/** The app with its services, not listening (tests use it with supertest). */
export async function createServerApp(config: Config, logger: Logger, opts: ServiceOptions = {}): Promise<AppBundle> {
  const services = await buildServices(config, logger, opts);
  // The process supervisor starts now, not at the first request (its start is a fork of this process).
  await services.runner
    .warmUp?.()
    .catch((err: unknown) =>
      logger.warn('process supervisor did not start; retrying at the first run', { error: String(err) }),
    );
  const guards = await buildGuards(config, logger, services);
  const { app } = await createApp({
    config,
    logger,
    handlers: buildHandlers(services),
    metrics: services.metrics,
    guards: isWorkerNode(config) ? [workerOnly, ...guards.middleware] : guards.middleware,
  });
  // jobs are driven by API nodes; a worker node only runs what they queue
  if (!isWorkerNode(config)) await services.jobs.start();
  const staleClaimMs = (config.server.request_timeout_secs + 60) * 1000;
  const retention = startRetention(services.store, {
    retentionDays: config.session.retention_days,
    intervalSecs: config.session.cleanup_interval_secs,
    staleClaimMs,
    logger,
  });
  releaseYoungGeneration();
  return {
    app,
    services,
    close: async () => {
      retention.stop();
      guards.stop();
      services.jobs.beginShutdown();
      services.limiter.close();
      services.versions.close();
      services.cluster?.launcher?.killAll(KILL_SHUTDOWN);
      await services.cluster?.stopWorker(0);
      await services.runner.killAll(KILL_SHUTDOWN);
      await services.jobs.drained(2000);
      await services.jobs.close();
      // after every run ended: their usage records are flushed, nothing is lost
      await services.usage.close();
      await services.runner.close();
      await services.store.close();
      await services.cluster?.close();
    },
  };
}

function isWorkerNode(config: Config): boolean {
  return config.cluster.enabled && config.cluster.role === 'worker';
}

/** A worker node answers `/health` and `/metrics` only (docs/cluster.md). */
const workerOnly: RequestHandler = (req, res, next) => {
  if (req.path === '/health' || req.path === '/metrics') return next();
  sendError(res, new ApiError('not_found', 'this is a worker node: it serves only /health and /metrics'));
};

/** Start-up warnings that need the services: unavailable backends, refused default workdir. */
async function startupWarnings(s: Services): Promise<void> {
  // a cluster API node runs no CLI itself: its backends are what the workers report
  const local = !(s.config.cluster.enabled && s.config.cluster.role === 'api');
  for (const b of local ? await s.availability.checkAll() : []) {
    const facts = ADAPTERS[b.name].onboarding;
    if (b.enabled && !b.available) {
      s.logger.warn(
        `${b.reason ?? `backend "${b.name}" is not available`}; install it with: ${installCommand(facts)} (then run 'clinvk doctor')`,
        {
          backend: b.name,
          reason: b.reason,
          install: installCommand(facts),
        },
      );
    } else if (b.available && b.command) {
      // Read the version in the background: start-up does not wait for a slow `--version`.
      void s.versions.get(b.name, b.command).then((info) => {
        for (const w of versionWarnings(info, facts)) s.logger.warn(`backend "${b.name}": ${w}`, { backend: b.name });
      });
    }
  }
  try {
    await s.planner.checkSessionWorkdir(s.config.server.default_workdir, 'server.default_workdir');
  } catch (err) {
    s.logger.warn('default working directory refused by the workdir policy', {
      default_workdir: s.config.server.default_workdir,
      error: (err as Error).message,
    });
  }
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  server: http.Server;
  services: Services;
  shutdown(opts?: { force?: boolean }): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Writes a JSON error straight to a socket (the request never reached Express). */
function writeSocketError(socket: Duplex, code: ErrorCode, message: string, rawPacket?: Buffer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const line = rawPacket?.toString('latin1').split('\r\n', 1)[0] ?? '';
  const target = line.split(' ')[1] ?? '/';
  const style = apiStyleOf(target.startsWith('/') ? target.split('?')[0]! : '/');
  const { status, body } = errorResponse(style, new ApiError(code, message));
  const payload = JSON.stringify(body);
  const id = randomUUID();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n` +
      `X-Request-Id: ${id}\r\n` +
      (style === 'anthropic' ? `request-id: ${id}\r\n` : '') +
      'X-Content-Type-Options: nosniff\r\n' +
      'Connection: close\r\n\r\n' +
      payload,
  );
}

export async function startServer(config: Config, opts: { logger: Logger } & ServiceOptions): Promise<RunningServer> {
  const { logger } = opts;
  const s = config.server;
  const bundle = await createServerApp(config, logger, opts);
  await startupWarnings(bundle.services);
  // The process supervisor starts now, not on the first request (its start is a fork of this process).
  await bundle.services.runner
    .warmUp?.()
    .catch((err: unknown) =>
      logger.warn('process supervisor did not start; retrying at the first run', { error: String(err) }),
    );
  const server = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: s.read_timeout_secs * 1000,
      headersTimeout: Math.min(10, s.read_timeout_secs) * 1000,
      keepAliveTimeout: s.idle_timeout_secs * 1000,
      // Node checks header/request timeouts only on this interval (default 30 s, i.e. a 10 s
      // header timeout could take 40 s to fire): check every second.
      connectionsCheckingInterval: 1000,
    },
    bundle.app,
  );
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW')
      return writeSocketError(socket, 'header_too_large', 'request headers too large', err.rawPacket);
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') {
      return writeSocketError(socket, 'request_timeout', 'request not received in time', err.rawPacket);
    }
    writeSocketError(socket, 'bad_request', 'malformed HTTP request', err.rawPacket);
  });
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];
  server.on('request', (_req, res: http.ServerResponse) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (inFlight === 0) idleWaiters.splice(0).forEach((f) => f());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.port, s.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as { port: number; address: string };
  const hostForUrl = s.host.includes(':') ? `[${s.host}]` : s.host;

  let shutdownPromise: Promise<void> | undefined;
  let forceNow: (() => void) | undefined;
  const drained = (ms: number) =>
    new Promise<void>((resolve) => {
      if (inFlight === 0) return resolve();
      const t = setTimeout(resolve, ms);
      forceNow = () => {
        clearTimeout(t);
        resolve();
      };
      idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });

  const shutdown = (o: { force?: boolean } = {}): Promise<void> => {
    if (shutdownPromise) {
      if (o.force) {
        forceNow?.();
        bundle.services.jobs.cutDrain();
      }
      return shutdownPromise;
    }
    shutdownPromise = (async () => {
      logger.info('shutting down', { in_flight: inFlight });
      server.close();
      server.closeIdleConnections();
      // jobs: nothing new starts; running jobs get the drain window like requests do
      bundle.services.jobs.beginShutdown();
      bundle.services.limiter.close();
      if (!o.force) {
        const ms = s.shutdown_timeout_secs * 1000;
        await Promise.all([drained(ms), bundle.services.jobs.drained(ms)]);
      }
      // a worker node takes no new runs and lets running ones finish within the same window
      await bundle.services.cluster?.stopWorker(o.force ? 0 : s.shutdown_timeout_secs * 1000);
      bundle.services.cluster?.launcher?.killAll(KILL_SHUTDOWN);
      await bundle.services.runner.killAll(KILL_SHUTDOWN);
      await bundle.services.jobs.drained(2000);
      await drained(2000);
      server.closeAllConnections();
      await bundle.close();
      logger.info('stopped');
    })();
    return shutdownPromise;
  };

  return {
    url: `http://${hostForUrl}:${addr.port}`,
    host: s.host,
    port: addr.port,
    server,
    services: bundle.services,
    shutdown,
  };
}
