export { PostgresJobStore, type PostgresJobStoreOptions } from './store';
