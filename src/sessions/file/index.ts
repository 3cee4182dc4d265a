/** The embedded file session store (see store.ts for the layout). */
export { FileSessionStore } from './store';
export type { FileSessionStoreOptions, StoreLogger } from './options';
export { parseRecord, serializeRecord } from './record-codec';
