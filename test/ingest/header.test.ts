/** readDicomHeader: a DICOM file's header within the budget, never its Pixel Data. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodePart10 } from '../../main/dicom/index.js';
import type { DicomElement } from '../../main/dicom/index.js';
import { TriageError } from '../../main/errors/index.js';
import { MAX_HEADER_BYTES, readDicomHeader } from '../../main/ingest/index.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('dicom-header');
after(() => scratch.remove());
const META = { mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1', mediaStorageSOPInstanceUID: '1.2.3.4' };
const HEADER: DicomElement[] = [
  { tag: 0x00080016, vr: 'UI', value: META.mediaStorageSOPClassUID },
  { tag: 0x00080018, vr: 'UI', value: META.mediaStorageSOPInstanceUID },
  { tag: 0x00100010, vr: 'PN', value: 'DOE^JANE' },
  { tag: 0x0020000d, vr: 'UI', value: '1.2.3' },
];

function write(name: string, bytes: Uint8Array): string {
  const path = join(scratch.path, name);
  writeFileSync(path, bytes);
  return path;
}

const coded = (code: string) => (error: unknown) => error instanceof TriageError && error.code === code;

test('the header is read up to the Pixel Data, which is left out', async () => {
  const pixels = new Uint16Array(512 * 512).fill(7);
  const file = write('image.dcm', encodePart10([...HEADER, { tag: 0x7fe00010, vr: 'OW', value: pixels }], META));
  const header = await readDicomHeader(file);
  assert.equal(header.string('x00100010'), 'DOE^JANE');
  assert.equal(header.string('x00080018'), '1.2.3.4');
  assert.equal(header.elements.x7fe00010, undefined);
  assert.ok(header.byteArray.length < 1024, `${header.byteArray.length} bytes parsed`);
});

test('a header longer than the budget is TOO_LARGE before it is parsed', async () => {
  const long = 'x'.repeat(1024 * 1024);
  const elements: DicomElement[] = [...HEADER];
  // Private text elements (group 0009) of a megabyte each, until the header passes the budget.
  for (let i = 0; i * long.length <= MAX_HEADER_BYTES; i++)
    elements.push({ tag: 0x00091000 + i, vr: 'UT', value: long });
  const file = write(
    'long.dcm',
    encodePart10([...elements, { tag: 0x7fe00010, vr: 'OW', value: new Uint16Array(4) }], META),
  );
  await assert.rejects(readDicomHeader(file), coded('TOO_LARGE'));
});

test('a truncated header and an element longer than the file are coded errors', async () => {
  const whole = encodePart10(HEADER, META);
  await assert.rejects(readDicomHeader(write('cut.dcm', whole.subarray(0, whole.length - 5))), coded('TRUNCATED'));
  const bytes = Buffer.from(whole);
  const at = bytes.indexOf(Buffer.from('DOE^JANE', 'latin1')) - 2;
  bytes.writeUInt16LE(0xfff0, at); // Patient's Name claims 65,520 bytes
  await assert.rejects(readDicomHeader(write('long-element.dcm', bytes)), coded('TRUNCATED'));
  await assert.rejects(readDicomHeader(write('not.dcm', new Uint8Array(300))), coded('NOT_DICOM'));
});
