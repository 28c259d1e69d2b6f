/** The product's DICOM writer (dcmjs underneath): read back with dicom-parser, an independent reader. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dicomParser from 'dicom-parser';
import {
  DicomWriteError,
  encodePart10,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  nameUid,
  randomUid,
  SOFTWARE_VERSION,
} from '../../main/dicom/index.js';
import type { DicomElement } from '../../main/dicom/index.js';

const META = { mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1', mediaStorageSOPInstanceUID: '1.2.3' };
const encode = (elements: DicomElement[]) => encodePart10(elements, META);

test('the writer pads values to even length, sorts tags and names the product in the File Meta group', () => {
  const elements: DicomElement[] = [
    { tag: 0x00100010, vr: 'PN', value: 'PHANTOM^7' }, // 9 characters: padded with a space
    { tag: 0x00080018, vr: 'UI', value: '1.2.3' }, // 5 characters: padded with NUL
    { tag: 0x00280010, vr: 'US', value: 3 },
    { tag: 0x00281050, vr: 'DS', value: ['40', '-600.5'] },
    { tag: 0x00082218, vr: 'SQ', value: [[{ tag: 0x00080104, vr: 'LO', value: 'Chest' }]] },
    { tag: 0x7fe00010, vr: 'OW', value: new Uint16Array([1, 2, 65535]) },
  ];
  const bytes = encode(elements);
  assert.equal(Buffer.from(bytes.subarray(128, 132)).toString('latin1'), 'DICM');
  const parsed = dicomParser.parseDicom(bytes);
  assert.equal(parsed.string('x00100010'), 'PHANTOM^7');
  assert.equal(parsed.elements.x00100010.length, 10);
  assert.equal(parsed.elements.x00080018.length, 6);
  assert.equal(bytes[parsed.elements.x00080018.dataOffset + 5], 0, 'UI padded with NUL');
  assert.equal(bytes[parsed.elements.x00100010.dataOffset + 9], 0x20, 'PN padded with a space');
  assert.equal(parsed.floatString('x00281050', 1), -600.5);
  assert.equal(parsed.elements.x00082218.items?.[0].dataSet?.string('x00080104'), 'Chest');
  assert.equal(parsed.uint16('x7fe00010', 2), 65535);
  assert.equal(parsed.elements.x7fe00010.length, 6);
  // Group length: the bytes from the end of (0002,0000) to the first element after group 0002.
  const groupLength = parsed.uint32('x00020000')!;
  assert.equal(parsed.elements.x00020000.dataOffset + 4 + groupLength, parsed.elements.x00080018.dataOffset - 8);
  assert.equal(parsed.string('x00020010'), '1.2.840.10008.1.2.1');
  assert.equal(parsed.string('x00020012'), IMPLEMENTATION_CLASS_UID);
  assert.equal(parsed.string('x00020013'), IMPLEMENTATION_VERSION_NAME);
  assert.equal(parsed.string('x00020003'), '1.2.3');
  const order = Object.keys(parsed.elements).filter((tag) => !tag.startsWith('x0002'));
  assert.deepEqual(order, [...order].sort(), 'ascending tag order');
});

test('values that break their VR are refused before anything is written', () => {
  assert.throws(() => encode([{ tag: 0x00080060, vr: 'CS', value: 'dx' }]), DicomWriteError);
  assert.throws(() => encode([{ tag: 0x00080050, vr: 'SH', value: 'seventeen chars!!' }]), DicomWriteError);
  assert.throws(() => encode([{ tag: 0x00080018, vr: 'UI', value: '1.02.3' }]), DicomWriteError);
  assert.throws(() => encode([{ tag: 0x00280010, vr: 'US', value: 70000 }]), DicomWriteError);
  assert.throws(() => encode([{ tag: 0x00100010, vr: 'PN', value: 'A\\B' }]), DicomWriteError);
  assert.throws(() => encode([{ tag: 0x0040a30a, vr: 'DS', value: '0.12345678901234567' }]), DicomWriteError);
  assert.throws(
    () =>
      encode([
        { tag: 0x00100010, vr: 'PN', value: 'A' },
        { tag: 0x00100010, vr: 'PN', value: 'B' },
      ]),
    DicomWriteError,
  );
  assert.throws(() => encode([{ tag: 0x00020010, vr: 'UI', value: '1.2' }]), DicomWriteError);
  // Beyond ASCII only under ISO_IR 192 (dcmjs writes UTF-8), and never in a code string.
  assert.throws(() => encode([{ tag: 0x00100010, vr: 'PN', value: 'Müller^Anna' }]), DicomWriteError);
  const utf8 = encode([
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
    { tag: 0x00100010, vr: 'PN', value: 'Müller^Anna' },
  ]);
  const parsed = dicomParser.parseDicom(utf8);
  const name = parsed.elements.x00100010;
  assert.equal(
    Buffer.from(utf8.subarray(name.dataOffset, name.dataOffset + name.length))
      .toString('utf8')
      .trim(),
    'Müller^Anna',
  );
});

test('name UIDs are 2.25 UUIDs of version 8, the same for the same name and different otherwise', () => {
  const a = nameUid('sr', '1.2.3', 'pack');
  assert.equal(a, nameUid('sr', '1.2.3', 'pack'));
  assert.notEqual(a, nameUid('sc', '1.2.3', 'pack'));
  assert.notEqual(nameUid('a', 'bc'), nameUid('ab', 'c'));
  for (const uid of [a, randomUid(), IMPLEMENTATION_CLASS_UID]) {
    assert.match(uid, /^2\.25\.(0|[1-9]\d*)$/);
    assert.ok(uid.length <= 64);
    const hex = BigInt(uid.slice(5)).toString(16).padStart(32, '0');
    assert.match(hex, /^[0-9a-f]{12}[48][0-9a-f]{3}[89ab][0-9a-f]{15}$/, `${uid} is a version 4 or 8 UUID`);
  }
  assert.match(hexVersion(nameUid('x')), /^8$/);
  assert.match(SOFTWARE_VERSION, /^\d+\.\d+\.\d+/);
});

function hexVersion(uid: string): string {
  return BigInt(uid.slice(5)).toString(16).padStart(32, '0')[12];
}
