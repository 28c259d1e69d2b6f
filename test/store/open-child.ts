/**
 * Child process for the open-failure tests: opens the store at argv[2] and writes one result,
 * then prints what happened as one JSON line ({ok: true}, or the coded error's code and message).
 * The test runs it inside a user namespace, where a read-only mount, a folder without write
 * permission or a full disk fail for real, whoever runs the tests.
 */
import { ResultStore } from '../../main/store/index.js';
import { TriageError } from '../../main/errors/index.js';
import { result } from './results.js';

const [database] = process.argv.slice(2);
try {
  const store = ResultStore.open(database);
  try {
    store.recordResult({
      result: result('/images/1.dcm', { positives: ['nodule'] }),
      file: { path: '/images/1.dcm', sha256: '1'.repeat(64), size: 1 },
      format: 'dicom',
      priority: 'urgent',
      rulesFingerprint: 'r',
      scanId: null,
    });
  } finally {
    store.close();
  }
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (thrown) {
  const error = thrown instanceof TriageError ? thrown : null;
  process.stdout.write(
    `${JSON.stringify({ ok: false, code: error?.code ?? 'THROWN', message: error?.message ?? String(thrown) })}\n`,
  );
}
