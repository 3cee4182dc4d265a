import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, createSilentLogger, safeStringify } from '../../../src/observability/logger';

class Capture extends Writable {
  text = '';
  isTTY?: boolean;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
  lines(): string[] {
    return this.text.split('\n').filter((l) => l !== '');
  }
}

const tick = () => new Promise((r) => setImmediate(r));

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

test('JSON lines: timestamp, level, message, then the fields', async () => {
  const out = new Capture();
  const logger = createLogger({ level: 'info', stream: out });
  logger.info('request finished', { request_id: 'r1', status: 200, duration_ms: 3 });
  await tick();
  const lines = out.lines();
  expect(lines).toHaveLength(1);
  const entry = JSON.parse(lines[0]);
  expect(Object.keys(entry)).toEqual(['timestamp', 'level', 'message', 'request_id', 'status', 'duration_ms']);
  expect(entry.level).toBe('info');
  expect(entry.message).toBe('request finished');
  expect(new Date(entry.timestamp).toISOString()).toBe(entry.timestamp);
});

test('levels filter: info hides debug; debug shows it', async () => {
  const out = new Capture();
  const info = createLogger({ level: 'info', stream: out });
  info.debug('hidden');
  info.warn('shown');
  const debugOut = new Capture();
  const debug = createLogger({ level: 'debug', stream: debugOut });
  debug.debug('visible');
  await tick();
  expect(out.lines().map((l) => JSON.parse(l).message)).toEqual(['shown']);
  expect(JSON.parse(debugOut.lines()[0]).level).toBe('debug');
});

test('error level with an Error field and an Error message', async () => {
  const out = new Capture();
  const logger = createLogger({ level: 'error', stream: out });
  logger.error('boom', { error: new Error('bad thing'), request_id: 'r2' });
  logger.error(new Error('direct'));
  await tick();
  const [a, b] = out.lines().map((l) => JSON.parse(l));
  expect(a.error.message).toBe('bad thing');
  expect(typeof a.error.stack).toBe('string');
  expect(a.request_id).toBe('r2');
  expect(b.message).toBe('direct');
  expect(typeof b.stack).toBe('string');
});

test('human-readable lines when the stream is a TTY', async () => {
  const out = new Capture();
  out.isTTY = true;
  const logger = createLogger({ level: 'info', stream: out });
  logger.warn('careful', { key: 'server.foo', n: 2, text: 'two words' });
  await tick();
  const line = out.lines()[0];
  expect(line).toContain('\u001b['); // colourised
  expect(stripAnsi(line)).toMatch(/^\d{4}-\d\d-\d\dT\S+Z warn careful key=server.foo n=2 text="two words"$/);
});

test('json option overrides TTY detection', async () => {
  const out = new Capture();
  out.isTTY = true;
  createLogger({ stream: out, json: true }).info('x');
  const plain = new Capture();
  createLogger({ stream: plain, json: false }).info('y');
  await tick();
  expect(JSON.parse(out.lines()[0]).message).toBe('x');
  expect(stripAnsi(plain.lines()[0])).toMatch(/ info y$/);
  // Text lines into a file or a pipe carry no colour codes.
  expect(plain.lines()[0]).not.toContain('\u001b[');
});

test('silent logger accepts every level and writes nothing', () => {
  const logger = createSilentLogger();
  expect(() => {
    logger.error('e', { a: 1 });
    logger.warn('w');
    logger.info('i');
    logger.debug('d');
  }).not.toThrow();
});

test('safeStringify copes with cycles and BigInt', () => {
  const o: Record<string, unknown> = { n: BigInt(5) };
  o.self = o;
  expect(safeStringify(o)).toBe('{"n":"5","self":"[Circular]"}');
});

test('lines are written in the logging call; a level change, a child logger, Error values and an added transport still work', async () => {
  const out = new Capture();
  const logger = createLogger({ level: 'info', stream: out });
  logger.info('first', { n: 1 });
  expect(out.lines()).toHaveLength(1); // no stream hop in between
  logger.debug('hidden');
  logger.level = 'debug';
  logger.debug('now shown');
  logger.child({ request_id: 'r9' }).warn('from a child', { k: 'v' });
  logger.error(new Error('boom'));
  const extra = new Capture();
  logger.add(new winston.transports.Stream({ stream: extra }));
  logger.info('to both');
  await tick();
  const entries = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(entries.map((e) => e.message)).toEqual(['first', 'now shown', 'from a child', 'boom', 'to both']);
  expect(entries[2]).toMatchObject({ level: 'warn', request_id: 'r9', k: 'v' });
  expect(String(entries[3]!.stack)).toContain('Error: boom');
  expect(extra.lines().map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['to both']);
});
