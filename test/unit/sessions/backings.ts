/**
 * The session stores every shared suite runs against: the file store (a temp directory) and the
 * PostgreSQL store (a fresh schema on the test machine's PostgreSQL). Call `dropBackings()` in the
 * test file's `afterAll`.
 */
import * as path from 'path';
import { FileSessionStore } from '../../../src/sessions/file';
import { PostgresSessionStore } from '../../../src/sessions/postgres';
import { SchemaPool } from '../../helpers/postgres';
import { cleanupHomes, tmpHome } from './helpers';
import type { StoreBacking } from './store-contract';

const schemas = new SchemaPool();

export const SESSION_BACKINGS: [string, () => Promise<StoreBacking>][] = [
  [
    'file',
    async () => {
      const dir = path.join(tmpHome(), 'sessions');
      return {
        open: async (opts = {}) => {
          const store = await FileSessionStore.open({ dir, ...opts });
          await store.idle(); // the background start-up check, so that tests start from a quiet store
          return store;
        },
        dispose: async () => cleanupHomes(),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const schema = schemas.schema();
      return {
        // Each store gets its own pool, as a second process would.
        open: async (opts = {}) => PostgresSessionStore.open({ db: schemas.database(schema), ...opts }),
        dispose: async () => undefined,
      };
    },
  ],
];

export async function dropBackings(): Promise<void> {
  await schemas.dropAll();
  cleanupHomes();
}
