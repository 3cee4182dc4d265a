/** The SessionStore contract suite run against the file store. */
import * as path from 'path';
import { FileSessionStore } from '../../../../src/sessions/file';
import { cleanupHomes, tmpHome } from '../helpers';
import { describeSessionStoreContract } from '../store-contract';

describeSessionStoreContract('file', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  return {
    open: async (opts = {}) => {
      const store = await FileSessionStore.open({ dir, ...opts });
      await store.idle(); // the background start-up check, so that tests start from a quiet store
      return store;
    },
    dispose: async () => cleanupHomes(),
  };
});
