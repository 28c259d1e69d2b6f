/**
 * The patient and study identity of a DICOM data set, read apart from the Radiograph (which never
 * carries it) and sealed as a StudyIdentity (main/common/identity.ts): Patient's Name, Patient ID
 * and its issuer, Patient's Sex and Age, Accession Number, Study Date and Time, Study Description.
 *
 * Every value is hostile. At most MAX_VALUE_BYTES of an element are decoded (a header may declare
 * a megabyte-long name); text is decoded per Specific Character Set (0008,0005); control
 * characters (C0, DEL, C1) and the Unicode bidirectional controls (which could make a name read
 * as another on screen) are removed; the result is trimmed and cut to MAX_IDENTITY_TEXT
 * characters. Codes and dates that are not what the standard allows are dropped, never guessed.
 *
 * Character sets: the default repertoire (no 0008,0005) is ASCII, but archives commonly hold
 * Latin-1 names without declaring it, so bytes above 0x7F are read as ISO 8859-1, as pydicom and
 * dcmtk do. ISO_IR 192 is UTF-8; ISO_IR 100, 101, 109, 110, 126, 127, 138, 144, 148, 166 and
 * 203 (and their ISO 2022 forms without escape sequences) are the ISO 8859 parts; GB18030 and
 * GBK are themselves. A value under a set this reader does not know, or with ISO 2022 escape
 * sequences (code extensions), keeps its ASCII characters and has every other byte replaced by
 * U+FFFD: a name with a replacement character, never a wrong one.
 *
 * Patient's Age: when the file has none (or an invalid one), it is derived from Patient's Birth
 * Date and Study Date, in whole years (in months below 2 years, in days below a month), and
 * marked derived. The birth date itself is not kept.
 */
import { StudyIdentity } from '../../common/index.js';
import type { StudyIdentityFields } from '../../common/index.js';
import type { DataSet } from './parse.js';
import { asciiOnly, decoderFor } from './charset.js';
import type { Decode } from './charset.js';

const TAGS = {
  specificCharacterSet: 'x00080005',
  studyDate: 'x00080020',
  studyTime: 'x00080030',
  accessionNumber: 'x00080050',
  studyDescription: 'x00081030',
  patientName: 'x00100010',
  patientId: 'x00100020',
  issuerOfPatientId: 'x00100021',
  patientBirthDate: 'x00100030',
  patientSex: 'x00100040',
  patientAge: 'x00101010',
} as const;

/** Bytes of one element decoded at most (LO is 64 characters, PN 64 per group: UTF-8 fits). */
export const MAX_VALUE_BYTES = 1024;
/** Characters of one value kept at most. */
export const MAX_IDENTITY_TEXT = 128;

/**
 * C0 and C1 controls, DEL, and the bidirectional controls (embeddings, overrides, isolates,
 * marks) and other invisible format characters that could disguise a value on screen.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

/** Control and invisible formatting characters removed, trimmed, cut to MAX_IDENTITY_TEXT. */
export function sanitise(text: string): string | null {
  const clean = text.replace(UNSAFE, '').trim();
  if (clean === '') return null;
  return Array.from(clean).slice(0, MAX_IDENTITY_TEXT).join('').trim();
}

/** An element's value bytes (at most MAX_VALUE_BYTES), or null when absent, empty or out of bounds. */
function valueBytes(dataSet: DataSet, tag: string): Uint8Array | null {
  const element = dataSet.elements[tag];
  if (!element || !(element.length > 0) || element.length === 0xffffffff) return null;
  const start = element.dataOffset;
  const end = Math.min(start + element.length, start + MAX_VALUE_BYTES, dataSet.byteArray.length);
  if (!(start >= 0) || end <= start) return null;
  return dataSet.byteArray.subarray(start, end);
}

/** A text value decoded per the character set (ESC sequences: the safe fallback), or null. */
function textValue(dataSet: DataSet, tag: string, decode: Decode): string | null {
  const bytes = valueBytes(dataSet, tag);
  if (!bytes) return null;
  const text = (bytes.includes(0x1b) ? asciiOnly : decode)(bytes).replace(/\0+$/, '');
  return sanitise(text);
}

/** The first value of an ASCII attribute (codes, dates, times), or null. */
function asciiValue(dataSet: DataSet, tag: string): string | null {
  const bytes = valueBytes(dataSet, tag);
  if (!bytes) return null;
  return sanitise(asciiOnly(bytes).split('\\')[0]);
}

/** Patient's Name: its alphabetic group (else its ideographic one), trailing empty components dropped. */
function personNameValue(dataSet: DataSet, decode: Decode): string | null {
  const whole = textValue(dataSet, TAGS.patientName, decode);
  if (whole === null) return null;
  const groups = whole.split('\\')[0].split('=');
  const group = groups.map((g) => g.trim()).find((g) => g.replace(/\^/g, '').trim() !== '');
  if (!group) return null;
  return group.replace(/\^+$/, '').trim() || null;
}

/** A DA value (YYYYMMDD, or the old YYYY.MM.DD) that is a real date, as [year, month, day]. */
export function parseDate(value: string | null): [number, number, number] | null {
  const match = value === null ? null : /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(value);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (year < 1800 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return [year, month, day];
}

function isoDate(value: string | null): string | null {
  const date = parseDate(value);
  if (!date) return null;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date[0]}-${pad(date[1])}-${pad(date[2])}`;
}

/** A TM value (HH, HHMM, HHMMSS with an optional fraction, or the old HH:MM:SS) as HH:MM[:SS]. */
function isoTime(value: string | null): string | null {
  const match = value === null ? null : /^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.\d{1,6})?)?)?$/.exec(value);
  if (!match) return null;
  const [h, m = '00', s] = [match[1], match[2], match[3]];
  if (Number(h) > 23 || Number(m) > 59 || (s !== undefined && Number(s) > 60)) return null;
  return s === undefined ? `${h}:${m}` : `${h}:${m}:${s}`;
}

/**
 * The age on `study` of someone born on `birth`, as a DICOM age string: whole years from 2 years,
 * whole months from a month, else days; null when the birth is after the study or absurd.
 */
export function ageBetween(birth: [number, number, number], study: [number, number, number]): string | null {
  const days = (Date.UTC(study[0], study[1] - 1, study[2]) - Date.UTC(birth[0], birth[1] - 1, birth[2])) / 86_400_000;
  if (days < 0) return null;
  let months = (study[0] - birth[0]) * 12 + (study[1] - birth[1]);
  if (study[2] < birth[2]) months--;
  const years = Math.floor(months / 12);
  const as = (n: number, unit: string) => (n > 999 ? null : `${String(n).padStart(3, '0')}${unit}`);
  if (years >= 2) return as(years, 'Y');
  if (months >= 1) return as(months, 'M');
  return as(days, 'D');
}

/** The study identity of a data set, sealed; null when it has none of these attributes. */
export function readStudyIdentity(dataSet: DataSet): StudyIdentity | null {
  return StudyIdentity.from(readStudyIdentityFields(dataSet));
}

/** The same as plain fields (to cross a thread boundary; see StudyIdentity). */
export function readStudyIdentityFields(dataSet: DataSet): StudyIdentityFields {
  const decode = decoderFor(asciiRaw(dataSet, TAGS.specificCharacterSet));
  const sex = asciiValue(dataSet, TAGS.patientSex)?.toUpperCase() ?? null;
  const statedAge = asciiValue(dataSet, TAGS.patientAge)?.toUpperCase() ?? null;
  const rawStudyDate = asciiValue(dataSet, TAGS.studyDate);
  let patientAge = statedAge !== null && /^\d{3}[DWMY]$/.test(statedAge) ? statedAge : null;
  let patientAgeDerived = false;
  if (patientAge === null) {
    const birth = parseDate(asciiValue(dataSet, TAGS.patientBirthDate));
    const study = parseDate(rawStudyDate);
    if (birth && study) {
      patientAge = ageBetween(birth, study);
      patientAgeDerived = patientAge !== null;
    }
  }
  return {
    patientName: personNameValue(dataSet, decode),
    patientId: textValue(dataSet, TAGS.patientId, decode),
    issuerOfPatientId: textValue(dataSet, TAGS.issuerOfPatientId, decode),
    patientSex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : null,
    patientAge,
    patientAgeDerived,
    accessionNumber: textValue(dataSet, TAGS.accessionNumber, decode),
    studyDate: isoDate(rawStudyDate),
    studyTime: isoTime(asciiValue(dataSet, TAGS.studyTime)),
    studyDescription: textValue(dataSet, TAGS.studyDescription, decode),
  };
}

/** Specific Character Set's whole value (every term), ASCII. */
function asciiRaw(dataSet: DataSet, tag: string): string | null {
  const bytes = valueBytes(dataSet, tag);
  return bytes ? asciiOnly(bytes).replace(/\0/g, '') : null;
}
