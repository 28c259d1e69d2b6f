/**
 * DICOM files without the Part 10 preamble, as old archives hold them: data sets written by
 * dcmtk's dcmconv with --write-dataset in each uncompressed transfer syntax (and a file meta group
 * without the preamble in front of one) read as dcmtk and pydicom read them, to the same pixels and
 * attributes as the Part 10 file they came from.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readRadiograph } from '../../main/ingest/index.js';
import { scratchDir, tool } from '../support/tools.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const scratch = scratchDir('raw-dataset');
after(() => scratch.remove());

const SYNTAXES = [
  ['+ti', 'Implicit VR Little Endian'],
  ['+te', 'Explicit VR Little Endian'],
  ['+tb', 'Explicit VR Big Endian'],
] as const;

for (const fixture of ['explicit-le.dcm', 'monochrome1.dcm', 'signed-rescale.dcm']) {
  test(`${fixture} as a bare data set in each uncompressed syntax reads as the Part 10 file`, async () => {
    const original = await readRadiograph(join(FIXTURES, fixture));
    for (const [option, name] of SYNTAXES) {
      const out = join(scratch.path, `${fixture}${option}.raw`);
      tool('dcmconv', ['--write-dataset', option, join(FIXTURES, fixture), out]);
      const bytes = readFileSync(out);
      assert.notEqual(bytes.subarray(128, 132).toString('latin1'), 'DICM', 'no Part 10 prefix');
      const raw = await readRadiograph(out);
      assert.equal(raw.transferSyntax?.name, name, option);
      assert.deepEqual(
        [raw.rows, raw.columns, raw.photometric, raw.bitsStored],
        [original.rows, original.columns, original.photometric, original.bitsStored],
      );
      assert.deepEqual(raw.pixels, original.pixels, `${option}: the same modality values`);
      assert.equal(raw.metadata.sopInstanceUID, original.metadata.sopInstanceUID);
    }
  });
}

test('a file meta group without its preamble and "DICM" reads too', async () => {
  const original = readFileSync(join(FIXTURES, 'explicit-le.dcm'));
  const out = join(scratch.path, 'no-preamble.dcm');
  writeFileSync(out, original.subarray(132));
  const [raw, part10] = await Promise.all([readRadiograph(out), readRadiograph(join(FIXTURES, 'explicit-le.dcm'))]);
  assert.deepEqual(raw.pixels, part10.pixels);
  assert.equal(raw.transferSyntax?.uid, part10.transferSyntax?.uid);
});
