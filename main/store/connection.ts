/**
 * The one connection interface the results store is written against, and the two databases
 * behind it: an embedded SQLite file (sqlite.ts), the default, and a PostgreSQL server
 * (postgres.ts), for archives shared by many machines. The store's SQL is written once, in the
 * subset both accept: `?` parameters, ON CONFLICT, RETURNING, CASE rather than SQLite's
 * two-argument min/max, IS NOT DISTINCT FROM rather than IS, CAST(? AS TEXT) where a parameter's
 * type cannot be inferred.
 */
export type SqlValue = number | bigint | string | Uint8Array | null;
export type Row = Record<string, SqlValue>;
export type Params = SqlValue[] | undefined;

export type Dialect = 'sqlite' | 'postgresql';

export interface SqlDatabase {
  readonly dialect: Dialect;
  /** The database as the user named it: a file path, or the server's URL without its password. */
  readonly path: string;
  /** Executes one or more statements without results (schema scripts). */
  exec(sql: string): void;
  run(sql: string, params?: Params): { changes: number };
  get<T extends Row = Row>(sql: string, params?: Params): T | undefined;
  all<T extends Row = Row>(sql: string, params?: Params): T[];
  /** Runs `body` in one write transaction; any throw rolls everything back. */
  transaction<T>(body: () => T): T;
  close(): void;
}

export { isDatabaseUrl } from '../common/index.js';

/** A database URL fit to print and log: the password, if any, replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
