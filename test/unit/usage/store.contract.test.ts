/** The UsageStore contract suite, run against every store (file and PostgreSQL). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileUsageStore } from '../../../src/usage/file/file-store';
import { PostgresUsageStore } from '../../../src/usage/postgres';
import { SchemaPool } from '../../helpers/postgres';
import { describeUsageStoreContract } from './store-contract';

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

describeUsageStoreContract('file', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-usage-')), 'usage');
  return {
    open: async () => {
      const store = new FileUsageStore(dir, { rollupIntervalMs: 0 });
      await store.open();
      return store;
    },
    dispose: async () => fs.rmSync(path.dirname(dir), { recursive: true, force: true }),
  };
});

describeUsageStoreContract('postgres', async () => {
  const schema = schemas.schema();
  return {
    open: async () => {
      const store = new PostgresUsageStore(schemas.database(schema));
      await store.open();
      return store;
    },
    dispose: async () => undefined,
  };
});
