/**
 * `triage enqueue PATH... --db postgresql://… [--models DIR]`: loads an archive into the shared
 * work queue that `triage scan --worker` processes drain (main/archive).
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { enqueue } from '../../archive/index.js';
import { TriageError } from '../../errors/index.js';
import { DEFAULT_PACK, loadPack } from '../../packs/index.js';
import { isDatabaseUrl, packProvenance, ResultStore } from '../../store/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';

export const ENQUEUE_HELP = `triage enqueue PATH... --db postgresql://USER@HOST:PORT/DATABASE [--models DIR]

  Walks the paths once (folders recursively; no file is read) and loads every file into the
  shared work queue kept in the results database on a PostgreSQL server, for the pack given (the
  queue is per pack fingerprint). Then start "triage scan --db URL --worker" on as many machines
  as you like: each claims files until none is left. Enqueueing again adds new files and queues
  again those whose size or modification time changed; files done for this pack stay done, and a
  new pack version (another fingerprint) gets its own queue, so everything is analysed again with
  it. Prints one JSON object: files, added, requeued, unchanged, the walk's unreadable paths by
  code, and the queue's counts (pending, done, claimed by workers).
  --db URL       the results database on a PostgreSQL server (the same URL for every worker)
  --models DIR   model pack folder; default: the bundled pack (${DEFAULT_PACK})
  The paths must name the same files on every worker machine (the same mount point).`;

export async function runEnqueue(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { db: { type: 'string' }, models: { type: 'string' } },
  });
  if (positionals.length === 0) usage(`enqueue needs at least one PATH.\n\n${ENQUEUE_HELP}`);
  if (values.db === undefined || !isDatabaseUrl(values.db))
    usage(
      `enqueue needs --db postgresql://USER@HOST:PORT/DATABASE: the shared queue lives on a database server. Without one, split a scan with triage scan --shard i/N.\n\n${ENQUEUE_HELP}`,
    );
  for (const path of positionals) {
    try {
      await stat(path);
    } catch {
      throw new TriageError('FILE_NOT_FOUND', `The path ${path} does not exist.`, { file: path });
    }
  }
  const pack = await loadPack(values.models ?? DEFAULT_PACK);
  const store = ResultStore.open(values.db);
  try {
    printJson({ enqueue: await enqueue({ store, provenance: packProvenance(pack), roots: positionals }) });
    return 0;
  } finally {
    store.close();
  }
}
