import { KeyLimiter } from '../../../src/usage/limits';
import { keyCountersSuite } from '../../helpers/key-counters-suite';

describe('KeyLimiter (in memory)', () => {
  keyCountersSuite((clock) => new KeyLimiter(clock));
});
