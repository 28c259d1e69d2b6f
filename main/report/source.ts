/**
 * What the result objects take from their source image's header: the Patient, Patient Study and
 * General Study attributes, copied value for value, and the references to the image. The header
 * is read with the ingest's budget (never the Pixel Data). Text is decoded in the source's
 * character set and written as UTF-8 (ISO_IR 192) where it is not ASCII.
 */
import { TriageError } from '../errors/index.js';
import { exactDecoder, readDicomHeader, TRANSFER_SYNTAXES } from '../ingest/index.js';
import type { DataSet, Decode } from '../ingest/index.js';
import type { DicomElement, TextVR } from '../dicom/index.js';

/** Copied attributes: tag, VR, and whether the object must carry it even empty (Type 2). */
const COPIED: readonly (readonly [number, TextVR, boolean])[] = [
  // Patient module
  [0x00100010, 'PN', true], // Patient's Name
  [0x00100020, 'LO', true], // Patient ID
  [0x00100021, 'LO', false], // Issuer of Patient ID
  [0x00100022, 'CS', false], // Type of Patient ID
  [0x00100030, 'DA', true], // Patient's Birth Date
  [0x00100032, 'TM', false], // Patient's Birth Time
  [0x00100040, 'CS', true], // Patient's Sex
  [0x00101001, 'PN', false], // Other Patient Names
  [0x00102160, 'SH', false], // Ethnic Group
  [0x00104000, 'LT', false], // Patient Comments
  [0x00120062, 'CS', false], // Patient Identity Removed
  [0x00120063, 'LO', false], // De-identification Method
  // Patient Study module
  [0x00101010, 'AS', false], // Patient's Age
  [0x00101020, 'DS', false], // Patient's Size
  [0x00101030, 'DS', false], // Patient's Weight
  [0x00102000, 'LO', false], // Medical Alerts
  [0x00102110, 'LO', false], // Allergies
  [0x00102180, 'SH', false], // Occupation
  [0x001021b0, 'LT', false], // Additional Patient History
  // General Study module
  [0x0020000d, 'UI', true], // Study Instance UID
  [0x00080020, 'DA', true], // Study Date
  [0x00080030, 'TM', true], // Study Time
  [0x00080090, 'PN', true], // Referring Physician's Name
  [0x00200010, 'SH', true], // Study ID
  [0x00080050, 'SH', true], // Accession Number
  [0x00081030, 'LO', false], // Study Description
  [0x00081048, 'PN', false], // Physician(s) of Record
  [0x00081060, 'PN', false], // Name of Physician(s) Reading Study
];

/** VRs holding one value, where a backslash is text. */
const SINGLE_VALUED = new Set<TextVR>(['LT', 'ST', 'UT']);

export interface SourceImage {
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** The copied Patient, Patient Study and General Study elements. */
  copied: DicomElement[];
  /** True when a copied value is not ASCII: the objects then declare ISO_IR 192. */
  utf8: boolean;
  instanceNumber: string | null;
  patientOrientation: string[] | null;
  /**
   * The source was lossy-compressed (it says so, or its transfer syntax is lossy): a derived image
   * must say so too (PS3.3 C.7.6.1.1.5), with the source's ratio and method where it gives them.
   */
  lossy: { ratio: string[]; method: string[] } | null;
}

function decoderFor(dataSet: DataSet): Decode {
  const raw = (dataSet.string('x00080005') ?? '').trim();
  // Code extensions (ISO 2022 escapes) switch sets inside a value: not copied faithfully by a single decoder.
  const decode = exactDecoder(raw);
  if (!decode) {
    throw new TriageError(
      'INVALID_ATTRIBUTE',
      `The source's Specific Character Set "${raw}" uses code extensions or is unknown; its patient attributes cannot be copied into a result object.`,
    );
  }
  return decode;
}

function uidOf(dataSet: DataSet, tag: string, name: string): string {
  const value = dataSet.string(tag)?.replace(/\0/g, '').trim();
  if (!value)
    throw new TriageError('INVALID_ATTRIBUTE', `The source image has no ${name}; no result object can refer to it.`);
  return value;
}

/** The source's header as the result objects need it. */
export function sourceFromHeader(dataSet: DataSet): SourceImage {
  const decoder = decoderFor(dataSet);
  const bytes = dataSet.byteArray;
  const copied: DicomElement[] = [];
  let utf8 = false;
  for (const [tag, vr, required] of COPIED) {
    const key = `x${tag.toString(16).padStart(8, '0')}`;
    const element = dataSet.elements[key];
    if (!element) {
      if (required) copied.push({ tag, vr, value: '' });
      continue;
    }
    const text = decoder(bytes.subarray(element.dataOffset, element.dataOffset + element.length)).replace(
      /[\0 ]+$/,
      '',
    );
    const values = SINGLE_VALUED.has(vr)
      ? [text]
      : text.split('\\').map((value) => (vr === 'PN' ? value : value.trim()));
    if (/[^\x20-\x7e\n\r]/.test(text)) utf8 = true;
    copied.push({ tag, vr, value: vr === 'UI' ? values.map((v) => v.replace(/\0/g, '')) : values });
  }
  const orientation = dataSet.string('x00200020');
  const multi = (tag: string, pattern: RegExp) =>
    (dataSet.string(tag) ?? '')
      .split('\\')
      .map((value) => value.trim())
      .filter((value) => value.length <= 16 && pattern.test(value));
  const syntax = dataSet.string('x00020010')?.replace(/\0/g, '').trim();
  const lossy =
    dataSet.string('x00282110')?.trim() === '01' ||
    TRANSFER_SYNTAXES.some((entry) => entry.uid === syntax && entry.lossy);
  return {
    sopClassUID: uidOf(dataSet, 'x00080016', 'SOP Class UID'),
    sopInstanceUID: uidOf(dataSet, 'x00080018', 'SOP Instance UID'),
    studyInstanceUID: uidOf(dataSet, 'x0020000d', 'Study Instance UID'),
    seriesInstanceUID: uidOf(dataSet, 'x0020000e', 'Series Instance UID'),
    copied,
    utf8,
    instanceNumber: dataSet.string('x00200013')?.trim() || null,
    patientOrientation: orientation ? orientation.split('\\').map((v) => v.trim()) : null,
    lossy: lossy
      ? { ratio: multi('x00282112', /^[-+]?\d*\.?\d+([eE][-+]?\d+)?$/), method: multi('x00282114', /^[A-Z0-9_ ]+$/) }
      : null,
  };
}

/** Reads a DICOM source's header within the ingest's budget (coded errors for a hostile file). */
export async function readSource(file: string): Promise<SourceImage> {
  return sourceFromHeader(await readDicomHeader(file));
}
