import * as fs from 'fs';
import { errorMessage } from '../../../src/lib/error-message';
import { describeFsError, isFsError } from '../../../src/lib/fs-error';
import { yieldToEventLoop } from '../../../src/lib/yield-to-event-loop';

function fsError(): unknown {
  try {
    fs.mkdirSync('/proc/self/status/x/y');
  } catch (e) {
    return e;
  }
  throw new Error('mkdir unexpectedly succeeded');
}

test('isFsError recognises errno errors, also from another realm (plain objects)', () => {
  expect(isFsError(fsError())).toBe(true);
  expect(isFsError({ code: 'ENOENT', message: 'x' })).toBe(true);
  expect(isFsError({ code: 'ERR_INVALID_ARG_TYPE', message: 'x' })).toBe(false);
  expect(isFsError(new Error('plain'))).toBe(false);
  expect(isFsError('ENOENT')).toBe(false);
});

test('describeFsError keeps the code, the reason and the syscall, never the path', () => {
  const e = fsError();
  const text = describeFsError(e);
  expect(text).toMatch(/^E[A-Z]+: [a-z ]+ \(mkdir\)$/);
  expect(text).not.toContain('/proc');
  expect(describeFsError(new Error('something else'))).toBe('something else');
  expect(describeFsError(42)).toBe('42');
});

test('errorMessage', () => {
  expect(errorMessage(new Error('boom'))).toBe('boom');
  expect(errorMessage({ message: 'duck' })).toBe('duck');
  expect(errorMessage('text')).toBe('text');
  expect(errorMessage(undefined)).toBe('undefined');
});

test('yieldToEventLoop lets pending I/O callbacks run first', async () => {
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  await yieldToEventLoop();
  order.push('after');
  expect(order).toEqual(['immediate', 'after']);
});
