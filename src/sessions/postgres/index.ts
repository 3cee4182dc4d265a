export { PostgresSessionStore, type PostgresSessionStoreOptions } from './store';
