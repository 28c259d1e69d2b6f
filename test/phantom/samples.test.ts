/** The shipped sample set is exactly what its README's command makes. */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writePhantomSet } from '../../main/phantom/index.js';
import { scratchDir } from '../support/tools.js';

const SAMPLES = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));
const scratch = scratchDir('phantom-samples');
after(() => scratch.remove());

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

test('models/samples/phantoms is what its documented command writes, byte for byte', async () => {
  const readme = readFileSync(join(SAMPLES, 'README.md'), 'utf8');
  assert.match(readme, /npx triage phantom --count 12 --seed 20261126 --out models\/samples\/phantoms --size 288/);
  assert.match(readme, /not patient data/i);
  await writePhantomSet({ out: scratch.path, count: 12, seed: 20261126, format: 'dicom', size: 288, jobs: 1 });
  const shipped = listFiles(SAMPLES)
    .filter((f) => f !== 'README.md')
    .sort();
  const made = listFiles(scratch.path).sort();
  assert.deepEqual(shipped, made);
  let bytes = 0;
  for (const file of made) {
    const a = readFileSync(join(SAMPLES, file));
    bytes += a.length;
    assert.ok(a.equals(readFileSync(join(scratch.path, file))), `${file} differs from what the command makes`);
  }
  assert.ok(bytes < 3 * 1024 * 1024, `the sample set is ${bytes} bytes`);
  const labels = readFileSync(join(SAMPLES, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
  for (let column = 1; column <= 8; column++) {
    assert.ok(
      labels.some((line) => line.split(',')[column] === '1'),
      `column ${column} has a positive image`,
    );
  }
});
