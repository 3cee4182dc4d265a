export { DatabaseUnavailable, PostgresDatabase, type DatabaseLogger, type DatabaseOptions } from './database';
export { describeDbError, isConnectionError, MigrationError, redactUrl } from './errors';
export { MIGRATIONS, type Migration } from './migrations';
export { databaseFromConfig, openDatabase, type ClusterDbConfig } from './startup';
