/**
 * Child process for the durability test: writes results to a store as fast as it can, printing
 * the count after every commit, until it is killed.
 */
import { ResultStore } from '../../main/store/index.js';
import { result } from './results.js';

const [database, start] = process.argv.slice(2);
const store = ResultStore.open(database);
for (let i = Number(start); ; i++) {
  const file = `/images/${String(i).padStart(6, '0')}.dcm`;
  store.recordResult({
    result: result(file, {
      positives: ['nodule', 'pneumothorax'],
      studyInstanceUID: `1.2.3.${i % 7}`,
      sopInstanceUID: `1.2.3.4.${i}`,
    }),
    file: { path: file, sha256: String(i).padStart(64, '0'), size: 1000 + i },
    format: 'dicom',
    priority: 'critical',
    rulesFingerprint: 'r',
    scanId: null,
  });
  process.stdout.write(`${i}\n`);
}
