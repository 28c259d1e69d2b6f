/**
 * `--db postgresql://…` (or postgres://) names a database server; anything else is a SQLite file.
 * Shared: the shell passes such a value on unchanged, where it makes a file name absolute.
 */
export function isDatabaseUrl(target: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(target);
}
