/**
 * The patient and study identity of a DICOM file (main/ingest/dicom/identity.ts): names decoded
 * per Specific Character Set as pydicom decodes them (files written by pydicom in ISO_IR 100,
 * ISO_IR 192, ISO_IR 144, ISO_IR 126, GB18030 and the default repertoire), and hostile values
 * (control and bidirectional characters, megabyte-long and malformed values, unknown sets, ISO 2022
 * escapes) made harmless. The sealed StudyIdentity turns into no text in any way a log could.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, test } from 'node:test';
import { StudyIdentity, WITHHELD } from '../../main/common/index.js';
import type { StudyIdentityFields } from '../../main/common/index.js';
import { parseDataSet, readStudyIdentity, readStudyIdentityFields } from '../../main/ingest/index.js';
import { ageBetween, MAX_IDENTITY_TEXT } from '../../main/ingest/dicom/identity.js';
import { aptCommand, missingPythonModules, PYTHON } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('identity');
after(() => scratch.remove());

interface Case {
  charset: string | null;
  name: string;
  id: string;
  accession: string;
  description: string;
}

const CASES: Case[] = [
  { charset: null, name: 'DOE^JOHN^^DR', id: 'MRN-001', accession: 'A1001', description: 'CHEST PA' },
  {
    charset: 'ISO_IR 100',
    name: 'Müller^Jürgen',
    id: 'Ä-123',
    accession: 'ÉX42',
    description: 'Thorax p.a. Übersicht',
  },
  {
    charset: 'ISO_IR 192',
    name: 'Åström^Zoë=山田^太郎',
    id: 'ЖЁ-9',
    accession: 'ACC-ñ',
    description: '胸部 X線 ✓',
  },
  { charset: 'ISO_IR 144', name: 'Иванов^Иван', id: 'ИД-5', accession: 'Щ77', description: 'Грудная клетка' },
  { charset: 'ISO_IR 126', name: 'Διονυσιος^Ελενη', id: 'Ω-1', accession: 'Δ2', description: 'Θώρακας' },
  { charset: 'GB18030', name: '王^小东', id: '病人-8', accession: '号9', description: '胸部正位' },
];

const SCRIPT = `
import json, sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom import dcmread
cases, folder = json.loads(sys.argv[1]), sys.argv[2]
out = []
for i, c in enumerate(cases):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    if c["charset"]:
        ds.SpecificCharacterSet = c["charset"]
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyDate = "20260314"
    ds.StudyTime = "101502.25"
    ds.AccessionNumber = c["accession"]
    ds.StudyDescription = c["description"]
    ds.PatientName = c["name"]
    ds.PatientID = c["id"]
    ds.IssuerOfPatientID = "NORTH"
    ds.PatientSex = "F"
    ds.PatientAge = "058Y"
    path = f"{folder}/{i}.dcm"
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(path, write_like_original=False)
    back = dcmread(path)
    pn = back.PatientName
    out.append({"family": pn.family_name, "given": pn.given_name, "middle": pn.middle_name,
                "prefix": pn.name_prefix, "id": back.PatientID, "accession": back.AccessionNumber,
                "description": back.StudyDescription})
print(json.dumps(out, ensure_ascii=True))
`;

/** A bare Explicit VR Little Endian data set of text elements, values as raw bytes (even lengths). */
function dataSet(elements: Array<[number, string, Uint8Array | string]>): Uint8Array {
  const parts: Buffer[] = [];
  for (const [tag, vr, raw] of [...elements].sort((a, b) => a[0] - b[0])) {
    let value = Buffer.from(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
    if (value.length % 2 === 1) value = Buffer.concat([value, Buffer.from(' ')]);
    const head = Buffer.alloc(8);
    head.writeUInt16LE(tag >>> 16, 0);
    head.writeUInt16LE(tag & 0xffff, 2);
    head.write(vr, 4, 'latin1');
    head.writeUInt16LE(value.length, 6);
    parts.push(head, value);
  }
  return new Uint8Array(Buffer.concat(parts));
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const SOP = [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.1.1'] as [number, string, string];

async function fieldsOf(elements: Array<[number, string, Uint8Array | string]>): Promise<StudyIdentityFields> {
  return readStudyIdentityFields(await parseDataSet(dataSet([SOP, ...elements])));
}

describe('names and texts decoded per Specific Character Set, as pydicom decodes them', () => {
  test('files written by pydicom in six character sets', async () => {
    const missing = missingPythonModules(['pydicom'], (code) => spawnSync(PYTHON, ['-c', code]).status === 0);
    assert.deepEqual(missing, [], `${PYTHON} lacks pydicom: ${aptCommand(['python3-pydicom'])}`);
    const run = spawnSync(PYTHON, ['-c', SCRIPT, JSON.stringify(CASES), scratch.path], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const references = JSON.parse(run.stdout) as Array<Record<string, string>>;
    for (const [i, reference] of references.entries()) {
      const identity = readStudyIdentity(await parseDataSet(readFileSync(join(scratch.path, `${i}.dcm`))));
      assert.ok(identity, CASES[i].name);
      const v = identity.reveal();
      const components = [reference.family, reference.given, reference.middle, reference.prefix];
      while (components.length > 0 && components[components.length - 1] === '') components.pop();
      assert.equal(v.patientName, components.join('^'), `${CASES[i].charset}: the alphabetic group, as pydicom`);
      assert.equal(v.patientId, reference.id);
      assert.equal(v.accessionNumber, reference.accession);
      assert.equal(v.studyDescription, reference.description);
      assert.equal(v.issuerOfPatientId, 'NORTH');
      assert.equal(v.patientSex, 'F');
      assert.equal(v.patientAge, '058Y');
      assert.equal(v.patientAgeDerived, false);
      assert.equal(v.studyDate, '2026-03-14');
      assert.equal(v.studyTime, '10:15:02');
    }
    // And what each case meant to write, so a reference that decoded wrongly would show too.
    assert.deepEqual(
      references.map((r) => r.family),
      ['DOE', 'Müller', 'Åström', 'Иванов', 'Διονυσιος', '王'],
    );
  });
});

describe('hostile values', () => {
  test('control characters and bidirectional overrides are removed; values are trimmed', async () => {
    const v = await fieldsOf([
      [0x00080005, 'CS', 'ISO_IR 192'],
      [0x00100010, 'PN', utf8('EVIL\u0007\u202eNAME\u200f^Bob\u0000')],
      [0x00100020, 'LO', utf8(' \u0085ID\r\n42\u2066 ')],
      [0x00080050, 'SH', utf8('\u001b')],
    ]);
    assert.equal(v.patientName, 'EVILNAME^Bob');
    assert.equal(v.patientId, 'ID42');
    assert.equal(v.accessionNumber, null, 'nothing but a control character is no value');
  });

  test('a long value is decoded in part and cut', async () => {
    const v = await fieldsOf([[0x00100010, 'PN', 'A'.repeat(60_000)]]);
    assert.equal(v.patientName!.length, MAX_IDENTITY_TEXT);
  });

  test('an unknown character set and ISO 2022 escapes keep only their ASCII', async () => {
    const unknown = await fieldsOf([
      [0x00080005, 'CS', 'ISO_IR 999'],
      [0x00100010, 'PN', new Uint8Array([0x4a, 0xe9, 0x5e, 0x41])],
    ]);
    assert.equal(unknown.patientName, 'J\ufffd^A');
    const escaped = await fieldsOf([
      [0x00080005, 'CS', '\\ISO 2022 IR 87'],
      [0x00100010, 'PN', new Uint8Array([0x59, 0x41, 0x1b, 0x24, 0x42, 0x3b, 0x33, 0x1b, 0x28, 0x42])],
    ]);
    assert.equal(escaped.patientName, 'YA$B;3(B', 'the escapes (controls) removed, no guessing of JIS');
    const latin = await fieldsOf([[0x00100010, 'PN', new Uint8Array([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72])]]);
    assert.equal(latin.patientName, 'Müller', 'no set declared: Latin-1, as pydicom and dcmtk read it');
  });

  test('malformed codes and dates are dropped; a missing age is derived from the birth date', async () => {
    const v = await fieldsOf([
      [0x00080020, 'DA', '20260228'],
      [0x00080030, 'TM', '2561'],
      [0x00100030, 'DA', '19680229'],
      [0x00100040, 'CS', 'X'],
      [0x00101010, 'AS', '58'],
    ]);
    assert.equal(v.patientSex, null);
    assert.equal(v.studyTime, null);
    assert.equal(v.studyDate, '2026-02-28');
    assert.equal(v.patientAge, '057Y', 'born 29 February 1968: not yet 58 on 28 February 2026');
    assert.equal(v.patientAgeDerived, true);
    const bad = await fieldsOf([
      [0x00080020, 'DA', '20261345'],
      [0x00100030, 'DA', '19680101'],
    ]);
    assert.equal(bad.studyDate, null);
    assert.equal(bad.patientAge, null, 'no study date, no derived age');
    assert.equal(ageBetween([2026, 1, 10], [2026, 2, 5]), '026D');
    assert.equal(ageBetween([2025, 1, 10], [2026, 2, 5]), '012M');
    assert.equal(ageBetween([2027, 1, 10], [2026, 2, 5]), null, 'born after the study');
  });

  test('a file with none of these attributes has no identity', async () => {
    assert.equal(readStudyIdentity(await parseDataSet(dataSet([SOP]))), null);
  });
});

describe('a sealed identity turns into no text', () => {
  test('JSON, String, templates, util.inspect and a structured clone carry none of its values', async () => {
    const identity = readStudyIdentity(
      await parseDataSet(
        dataSet([SOP, [0x00100010, 'PN', 'SECRET^NAME'], [0x00100020, 'LO', 'ID-SECRET'], [0x00080050, 'SH', 'ACC9']]),
      ),
    )!;
    assert.equal(identity.reveal().patientId, 'ID-SECRET');
    const holder = { file: '/x.dcm', identity, nested: [{ identity }] };
    const texts = [
      JSON.stringify(holder),
      String(identity),
      `${identity}`,
      'x' + identity,
      inspect(holder, { depth: 10, showHidden: true }),
      JSON.stringify(structuredClone({ identity: identity as unknown as object })),
      JSON.stringify(Object.entries(identity)),
      JSON.stringify({ ...identity }),
    ];
    for (const text of texts) assert.doesNotMatch(text, /SECRET|ACC9/, text);
    assert.ok(JSON.stringify(holder).includes(WITHHELD));
    assert.equal(StudyIdentity.from(null), null);
  });
});
