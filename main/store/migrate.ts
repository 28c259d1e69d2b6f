/** Schema migrations: the database brought to SCHEMA_VERSION, one transaction per migration. */
import { TriageError } from '../errors/index.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import type { Sqlite } from './sqlite.js';

/** Brings the database to SCHEMA_VERSION; refuses a database newer than this application. */
export function migrate(db: Sqlite): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const current = Number(db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
  if (current > SCHEMA_VERSION) {
    throw new TriageError(
      'DATABASE_TOO_NEW',
      `The results database ${db.path} has schema version ${current}; this version of the application reads up to ${SCHEMA_VERSION}. Update the application.`,
      { file: db.path },
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      // Another process may have migrated meanwhile: the check is repeated under the lock.
      const again = Number(db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
      if (again >= migration.version) return;
      db.exec(migration.sql);
      db.run('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.description,
        new Date().toISOString(),
      ]);
    });
  }
}
