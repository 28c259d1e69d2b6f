/** Schema migrations: the database brought to SCHEMA_VERSION, one transaction per migration. */
import { TriageError } from '../errors/index.js';
import type { SqlDatabase } from './connection.js';
import { POSTGRES_MIGRATIONS } from './postgres-schema.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** Any fixed number: the advisory lock that serialises migrations of one server database. */
const MIGRATION_LOCK = 727_001;

const currentVersion = (db: SqlDatabase) =>
  Number(db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);

/** Brings the database to SCHEMA_VERSION; refuses a database newer than this application. */
export function migrate(db: SqlDatabase): void {
  const server = db.dialect === 'postgresql';
  const createVersions =
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)';
  if (server) {
    // Workers started together: one creates and migrates, the others wait for it and see the result.
    db.transaction(() => {
      db.get('SELECT pg_advisory_xact_lock(?) IS NULL AS locked', [MIGRATION_LOCK]);
      db.exec(createVersions);
    });
  } else db.exec(createVersions);
  const current = currentVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new TriageError(
      'DATABASE_TOO_NEW',
      `The results database ${db.path} has schema version ${current}; this version of the application reads up to ${SCHEMA_VERSION}. Update the application.`,
      { file: db.path },
    );
  }
  const migrations = server ? POSTGRES_MIGRATIONS : MIGRATIONS;
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      if (server) db.get('SELECT pg_advisory_xact_lock(?) IS NULL AS locked', [MIGRATION_LOCK]);
      // Another process may have migrated meanwhile: the check is repeated under the lock.
      if (currentVersion(db) >= migration.version) return;
      db.exec(migration.sql);
      db.run('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.description,
        new Date().toISOString(),
      ]);
    });
  }
}
