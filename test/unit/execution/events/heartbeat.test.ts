import { Heartbeat } from '../../../../src/execution/events/heartbeat';

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

test('beats after each idle interval and not before', () => {
  let beats = 0;
  const hb = new Heartbeat(1000, () => beats++);
  hb.start();
  jest.advanceTimersByTime(999);
  expect(beats).toBe(0);
  jest.advanceTimersByTime(1);
  expect(beats).toBe(1);
  jest.advanceTimersByTime(3000);
  expect(beats).toBe(4);
  hb.stop();
});

test('a write (touch) postpones the next beat to a full interval after it', () => {
  let beats = 0;
  const hb = new Heartbeat(1000, () => beats++);
  hb.start();
  jest.advanceTimersByTime(600);
  hb.touch();
  jest.advanceTimersByTime(999);
  expect(beats).toBe(0);
  jest.advanceTimersByTime(1);
  expect(beats).toBe(1);
  // steady writes more often than the interval: no beat at all
  for (let i = 0; i < 10; i++) {
    jest.advanceTimersByTime(500);
    hb.touch();
  }
  expect(beats).toBe(1);
  hb.stop();
});

test('stop ends the beats; interval 0 never starts', () => {
  let beats = 0;
  const hb = new Heartbeat(1000, () => beats++);
  hb.start();
  jest.advanceTimersByTime(1000);
  hb.stop();
  jest.advanceTimersByTime(10_000);
  expect(beats).toBe(1);
  const off = new Heartbeat(0, () => beats++);
  off.start();
  jest.advanceTimersByTime(10_000);
  expect(beats).toBe(1);
  expect(jest.getTimerCount()).toBe(0);
});
