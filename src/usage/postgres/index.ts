export { PostgresUsageStore } from './store';
