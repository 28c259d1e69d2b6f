/**
 * `triage export --db URL --to FILE.sqlite`: a shared scan's results, from the PostgreSQL server,
 * as a SQLite file the desktop app and `triage worklist` read offline.
 */
import { parseArgs } from 'node:util';
import { isDatabaseUrl } from '../../store/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';
import { mergeDatabases } from './merge.js';

export const EXPORT_HELP = `triage export --db postgresql://USER@HOST:PORT/DATABASE --to FILE.sqlite

  Writes every result of the server's database (images, findings, studies with their patients,
  scans, readers' verdicts, outbox) into FILE.sqlite, a new results database that the app (--db)
  and "triage worklist --db FILE.sqlite" read without the server. The copy is one transaction:
  FILE gets everything or nothing; it must not exist or be empty (OUTPUT_EXISTS). The shared
  queue is not copied. Prints {"export": {scans, images, studies, findings, feedback, outbox,
  database}}. Patient identity travels with the results: keep the file where the worklist is.`;

export async function runExport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { db: { type: 'string' }, to: { type: 'string' } },
  });
  if (positionals.length > 0) usage(`export takes only options.\n\n${EXPORT_HELP}`);
  if (values.db === undefined || !isDatabaseUrl(values.db))
    usage(`export needs --db postgresql://….\n\n${EXPORT_HELP}`);
  if (values.to === undefined) usage(`export needs --to FILE.sqlite.\n\n${EXPORT_HELP}`);
  const {
    inputs: _inputs,
    duplicatesAcrossInputs: _d,
    pathsInSeveralInputs: _p,
    ...summary
  } = mergeDatabases(values.to, [values.db]);
  printJson({ export: summary });
  return 0;
}
