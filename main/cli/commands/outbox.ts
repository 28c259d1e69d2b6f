/**
 * `triage outbox [--db FILE] [--json] [--retry-failed]`: what the DICOM node has to deliver, per
 * destination, and what failed and why.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultDatabasePath, isDatabaseUrl, ResultStore } from '../../store/index.js';
import { printJson } from '../output.js';
import { usage } from '../usage.js';

export const OUTBOX_HELP = `triage outbox [--db FILE] [--json] [--retry-failed]

  The DICOM node's outbox (triage serve): per destination, the result objects sent, pending
  (with the last error of one that failed and waits for its next attempt) and failed (refused
  by the destination in a way a new attempt would repeat), then the latest failures.
  --db FILE        results database (default: ${defaultDatabasePath()})
  --json           {"destinations": [{destination, sent, pending, failed, lastError}],
                    "failures": [{destination, kind, attempts, lastError, nextAttemptAt, state}]}
  --retry-failed   put every failed object back to pending, due now (after the cause is fixed);
                   a running node sends them at its next pass`;

export async function runOutbox(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      json: { type: 'boolean', default: false },
      'retry-failed': { type: 'boolean', default: false },
    },
  });
  const database = values.db ?? defaultDatabasePath();
  if (!isDatabaseUrl(database) && !existsSync(database))
    usage(`There is no results database at ${database}; name it with --db.`);
  const store = ResultStore.open(database);
  try {
    const retried = values['retry-failed'] ? store.outbox.retryFailed() : null;
    const destinations = store.outbox.counts();
    const failures = store.outbox
      .recent(200)
      .filter((item) => item.state !== 'sent' && item.lastError !== null)
      .slice(0, 20)
      .map((item) => ({
        destination: item.destination,
        kind: item.kind,
        attempts: item.attempts,
        lastError: item.lastError,
        nextAttemptAt: item.state === 'pending' ? item.nextAttemptAt : null,
        state: item.state,
      }));
    if (values.json) {
      printJson({ destinations, failures, ...(retried === null ? {} : { retried }) });
      return 0;
    }
    const lines: string[] = [];
    if (retried !== null) lines.push(`${retried} failed object${retried === 1 ? '' : 's'} put back to pending.`);
    if (destinations.length === 0) lines.push('The outbox is empty: no result objects were queued for a destination.');
    for (const d of destinations) {
      lines.push(`${d.destination}: sent ${d.sent}, pending ${d.pending}, failed ${d.failed}`);
      if (d.lastError && d.pending + d.failed > 0) lines.push(`  last error: ${d.lastError}`);
    }
    if (failures.length > 0) {
      lines.push('', 'Latest failures:');
      for (const f of failures) {
        const next = f.nextAttemptAt ? `, next attempt ${f.nextAttemptAt}` : ', failed for good until --retry-failed';
        lines.push(
          `  ${f.destination} ${f.kind.toUpperCase()}: ${f.lastError} (${f.attempts} attempt${f.attempts === 1 ? '' : 's'}${next})`,
        );
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    store.close();
  }
}
