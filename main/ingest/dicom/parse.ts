/**
 * Parsing a DICOM file into dicom-parser's data set, with every parser failure turned into a coded
 * error. dicom-parser throws plain strings; the message decides between a file that stops early
 * (TRUNCATED) and one whose structure is impossible (MALFORMED).
 */
import dicomParser from 'dicom-parser';
import { inflateRawSync } from 'node:zlib';
import { TriageError } from '../../errors/index.js';

export type DataSet = dicomParser.DataSet;
export type Element = dicomParser.Element;

/** A deflated data set may not inflate beyond this: real radiographs are well under it. */
export const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

const PREAMBLE_LENGTH = 128;

/** "DICM" at offset 128: a Part 10 file. */
export function hasPart10Prefix(bytes: Uint8Array): boolean {
  return (
    bytes.length >= PREAMBLE_LENGTH + 4 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/**
 * A data set without the Part 10 preamble (old ACR-NEMA style, still found on some archives): it
 * must start with a group 0x0008 element in implicit little endian, with a sane length.
 */
export function looksLikeRawDataSet(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const group = view.getUint16(0, true);
  const element = view.getUint16(2, true);
  const length = view.getUint32(4, true);
  return group === 0x0008 && element <= 0x0100 && length < 1024;
}

function parserMessage(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  // parseDicom wraps its failures as {exception, dataSet} (the data set read so far).
  if (typeof thrown === 'object' && thrown !== null && 'exception' in thrown) return parserMessage(thrown.exception);
  if (thrown instanceof Error) return thrown.message;
  return String(thrown);
}

const TRUNCATION =
  /past end of buffer|overread|overrun|eof encountered|cannot be greater than or equal to|greater than the length/i;

function inflater(bytes: Uint8Array, position: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TriageError('TOO_LARGE', `The deflated data set inflates beyond ${MAX_INFLATED_BYTES} bytes.`);
    }
    // A deflate stream that ends early is the usual way a deflated file is damaged.
    const truncated = code === 'Z_BUF_ERROR' || /unexpected end/i.test(parserMessage(error));
    throw new TriageError(
      truncated ? 'TRUNCATED' : 'MALFORMED',
      `The deflated data set cannot be inflated (${parserMessage(error)}).`,
    );
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

/** Parses a whole DICOM file (Part 10, or a bare implicit little endian data set). */
export function parseDataSet(bytes: Uint8Array): DataSet {
  const part10 = hasPart10Prefix(bytes);
  if (!part10 && !looksLikeRawDataSet(bytes)) {
    throw new TriageError('NOT_DICOM', 'The file is not DICOM (no "DICM" prefix at byte 128) nor a PNG or JPEG image.');
  }
  try {
    return part10
      ? dicomParser.parseDicom(bytes, { inflater } as dicomParser.ParseDicomOptions)
      : dicomParser.parseDicom(bytes, { TransferSyntaxUID: '1.2.840.10008.1.2' } as dicomParser.ParseDicomOptions);
  } catch (thrown) {
    if (thrown instanceof TriageError) throw thrown;
    const message = parserMessage(thrown);
    if (/missing required meta header attribute 0002,0010/.test(message)) {
      throw new TriageError('MALFORMED', 'The file meta information has no Transfer Syntax UID (0002,0010).');
    }
    if (TRUNCATION.test(message)) {
      throw new TriageError('TRUNCATED', `The DICOM file ends before the data it announces (${message}).`);
    }
    throw new TriageError('MALFORMED', `The DICOM structure is corrupt (${message}).`);
  }
}
