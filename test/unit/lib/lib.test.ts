import { errnoCode, isErrno } from '../../../src/lib/errno';
import { KeyedMutex, Mutex } from '../../../src/lib/mutex';
import { packageVersion } from '../../../src/lib/package-version';
import { sleep } from '../../../src/lib/sleep';

describe('lib helpers', () => {
  test('errnoCode / isErrno read the code of system errors only', () => {
    const e = Object.assign(new Error('x'), { code: 'ENOENT' });
    expect(errnoCode(e)).toBe('ENOENT');
    expect(isErrno(e, 'EACCES', 'ENOENT')).toBe(true);
    expect(isErrno(e, 'EACCES')).toBe(false);
    expect(errnoCode(new Error('plain'))).toBeUndefined();
    expect(errnoCode('ENOENT')).toBeUndefined();
    expect(errnoCode({ code: 5 })).toBeUndefined();
  });

  test('Mutex runs calls one at a time in call order; a failure does not block later calls', async () => {
    const m = new Mutex();
    const order: string[] = [];
    const a = m.run(async () => {
      order.push('a:start');
      await sleep(20);
      order.push('a:end');
      return 1;
    });
    const b = m.run(async () => {
      order.push('b');
      throw new Error('boom');
    });
    const c = m.run(async () => {
      order.push('c');
      return 3;
    });
    await expect(a).resolves.toBe(1);
    await expect(b).rejects.toThrow('boom');
    await expect(c).resolves.toBe(3);
    expect(order).toEqual(['a:start', 'a:end', 'b', 'c']);
  });

  test('KeyedMutex runs calls of one key in order, other keys alongside; idle waits for all', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const slow = (tag: string, ms: number) => async () => {
      order.push(`${tag}:start`);
      await sleep(ms);
      order.push(`${tag}:end`);
    };
    void m.run('x', slow('x1', 30));
    const failed = m.run('x', async () => {
      throw new Error('boom');
    });
    void m.run('x', slow('x2', 1));
    void m.run('y', slow('y1', 1));
    await expect(failed).rejects.toThrow('boom');
    await m.idle();
    expect(order).toEqual(['x1:start', 'y1:start', 'y1:end', 'x1:end', 'x2:start', 'x2:end']);
  });

  test('packageVersion reads clinvk package.json', () => {
    expect(packageVersion()).toBe(require('../../../package.json').version);
  });
});
