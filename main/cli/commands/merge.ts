/**
 * `triage merge OUT IN...`: the shards' databases (`triage scan --shard i/N`) joined into one,
 * equal to a scan of the whole archive on one machine (main/store's copyResults).
 */
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TriageError } from '../../errors/index.js';
import { databaseFiles, isDatabaseUrl, mergeStores, redactUrl, ResultStore } from '../../store/index.js';
import type { MergeSummary } from '../../store/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';

export const MERGE_HELP = `triage merge OUT.sqlite IN.sqlite...

  Joins results databases, the shards of one archive (triage scan --shard i/N, one database each),
  into OUT, a new database equal to a scan of the whole archive on one machine: every image,
  finding, study, scan, reader's verdict and outbox item, with new ids. Content (or a SOP
  Instance UID) found in several shards is analysed once, as one scan would: the first copy in
  walk order keeps its findings, the later ones become its duplicates. A study's priority is
  the most urgent any shard gave it. OUT must not exist or be empty (OUTPUT_EXISTS); the merge is
  one transaction, so OUT gets everything or, on a failure, nothing. Refused: the same file
  analysed with different model packs in two inputs (MERGE_CONFLICT), an input written by a
  newer version (DATABASE_TOO_NEW). An input of an older schema is brought up to date first, as
  any command does. Prints {"merge": {inputs, scans, images, duplicatesAcrossInputs,
  pathsInSeveralInputs, studies, findings, feedback, outbox, database}}.`;

const same = (a: string, b: string) => {
  const real = (path: string) => (existsSync(path) ? realpathSync(path) : resolve(path));
  return real(a) === real(b);
};

export async function runMerge(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length < 2) usage(`merge needs the output database and at least one input.\n\n${MERGE_HELP}`);
  const [out, ...inputs] = positionals;
  printJson({ merge: mergeDatabases(out, inputs) });
  return 0;
}

/**
 * Copies the results databases `inputs` (files, or a server's URL) into the new SQLite file
 * `out`, as one transaction; a file this made is removed again when it fails.
 */
export function mergeDatabases(out: string, inputs: string[]): MergeSummary & { database: string } {
  if (isDatabaseUrl(out)) usage(`The output is a new SQLite file, not a server: ${redactUrl(out)}.`);
  for (const [i, input] of inputs.entries()) {
    // A server's URL is named without its password.
    const named = isDatabaseUrl(input) ? redactUrl(input) : input;
    if (!isDatabaseUrl(input) && !existsSync(input))
      throw new TriageError('FILE_NOT_FOUND', `There is no results database at ${input}.`, { file: input });
    if (same(input, out)) usage(`${named} is both the output and an input; name a new output file.`);
    if (inputs.slice(0, i).some((earlier) => same(earlier, input))) usage(`${named} is named twice.`);
  }
  const created = !existsSync(out);
  const sources: ResultStore[] = [];
  let destination: ResultStore | undefined;
  let done = false;
  try {
    for (const input of inputs) sources.push(ResultStore.open(input));
    destination = ResultStore.open(out);
    const summary = mergeStores(sources, destination);
    done = true;
    return { ...summary, database: destination.path };
  } finally {
    for (const source of sources) source.close();
    destination?.close();
    // Nothing was merged (the transaction rolled back): a file this command made is removed.
    if (!done && created)
      for (const file of databaseFiles(resolve(out))) rmSync(file, { recursive: true, force: true });
  }
}
