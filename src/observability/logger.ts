/**
 * winston logger: JSON lines on stderr (`timestamp`, `level`, `message`, then the
 * fields), or colourised human-readable lines when the stream is a TTY. Levels used by the project:
 * `error`, `warn`, `info`, `debug`.
 */
import { EOL } from 'node:os';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { LogLevel } from '../config/types';

export type Logger = winston.Logger;

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface LoggerOptions {
  level?: LogLevel;
  /** Destination; default `process.stderr`. */
  stream?: NodeJS.WritableStream;
  /** JSON lines (true) or human-readable coloured lines (false). Default: JSON unless the stream is a TTY. */
  json?: boolean;
}

const MESSAGE = Symbol.for('message');
const RESERVED = new Set(['timestamp', 'level', 'message']);

/** JSON.stringify that survives cycles, BigInt and Error values. */
export function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) {
      const e: Record<string, unknown> = { name: v.name, message: v.message };
      if (v.stack) e.stack = v.stack;
      const code = (v as NodeJS.ErrnoException).code;
      if (code !== undefined) e.code = code;
      return e;
    }
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

/** The fields of a log entry (string keys other than timestamp/level/message). */
function fieldsOf(info: winston.Logform.TransformableInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) if (!RESERVED.has(k) && v !== undefined) out[k] = v;
  return out;
}

function messageText(m: unknown): string {
  return typeof m === 'string' ? m : safeStringify(m);
}

/**
 * One JSON line: timestamp, level, message, then the fields in their order. Lines whose fields are
 * all primitives (the access log) go straight to JSON.stringify; others through safeStringify.
 */
const jsonLine = winston.format((info) => {
  const line: Record<string, unknown> = {
    timestamp: info.timestamp,
    level: info.level,
    message: messageText(info.message),
  };
  let plain = true;
  for (const k of Object.keys(info)) {
    const v = info[k];
    if (v === undefined || RESERVED.has(k)) continue;
    line[k] = v;
    if ((v !== null && typeof v === 'object') || typeof v === 'bigint') plain = false;
  }
  (info as Record<string | symbol, unknown>)[MESSAGE] = plain ? JSON.stringify(line) : safeStringify(line);
  return info;
});

function renderField(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return safeStringify(v);
}

const humanLine = winston.format.printf((info) => {
  const fields = Object.entries(fieldsOf(info))
    .filter(([k]) => k !== 'stack')
    .map(([k, v]) => `${k}=${renderField(v)}`)
    .join(' ');
  const stack = typeof info.stack === 'string' ? `\n${info.stack}` : '';
  return `${String(info.timestamp)} ${info.level} ${messageText(info.message)}${fields ? ` ${fields}` : ''}${stack}`;
});

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const tty = (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
  const json = opts.json ?? !tty;
  const timestamp = winston.format.timestamp({ format: () => new Date().toISOString() });
  const format = json
    ? winston.format.combine(winston.format.errors({ stack: true }), timestamp, jsonLine())
    : winston.format.combine(
        winston.format.errors({ stack: true }),
        timestamp,
        // Colours only on a terminal: `--log-format text` into a file or journald stays plain.
        ...(tty ? [winston.format.colorize({ level: true })] : []),
        humanLine,
      );
  const transport = new winston.transports.Stream({ stream });
  const logger = winston.createLogger({
    level: opts.level ?? 'info',
    format,
    transports: [transport],
    exitOnError: false,
  });
  writeDirectly(logger, transport, stream, format);
  return logger;
}

const LEVEL = Symbol.for('level');

/**
 * winston passes every entry through its object streams (the logger's Transform, a pipe, the
 * transport's Writable, a setImmediate per line for the transport's `logged` event) and formats
 * entries below the level before the transport drops them. While the logger has just its own
 * stream transport, an entry is instead checked against the level first, formatted with the same
 * format and written to the same stream in the same call, which is what the pipeline ends up
 * doing. Anything else (other or more transports, silent, a callback, an unknown level) takes
 * winston's own path.
 */
function writeDirectly(
  logger: winston.Logger,
  transport: winston.transport,
  stream: NodeJS.WritableStream,
  format: winston.Logform.Format,
): void {
  const piped = logger.write.bind(logger) as (...args: unknown[]) => boolean;
  const levels = logger.levels;
  const direct = (...args: unknown[]): boolean => {
    const info = args[0] as Record<string | symbol, unknown> | null;
    if (
      args.length !== 1 ||
      info === null ||
      typeof info !== 'object' ||
      logger.silent ||
      transport.silent ||
      transport.level !== undefined ||
      logger.transports.length !== 1 ||
      logger.transports[0] !== transport
    ) {
      return piped(...args);
    }
    if (!info[LEVEL]) info[LEVEL] = info.level;
    const level = levels[info[LEVEL] as string];
    const threshold = levels[logger.level];
    if (level === undefined || threshold === undefined) return piped(...args);
    if (level > threshold || (info.exception === true && !transport.handleExceptions)) return true;
    const out = format.transform(info as winston.Logform.TransformableInfo, format.options) as
      Record<string | symbol, unknown> | false;
    if (out) stream.write(`${String(out[MESSAGE])}${EOL}`);
    return true;
  };
  logger.write = direct as typeof logger.write;
}

/** A logger that writes nothing (tests). Level `debug` so every code path that logs still runs. */
export function createSilentLogger(): Logger {
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
  return winston.createLogger({
    level: 'debug',
    silent: true,
    transports: [new winston.transports.Stream({ stream: sink, silent: true })],
  });
}
