/**
 * Parsing a DICOM file into dicom-parser's data set, within the ingest's budget, with every parser
 * failure turned into a coded error. dicom-parser throws plain strings; the message decides between
 * a file that stops early (TRUNCATED) and one whose structure is impossible (MALFORMED).
 *
 * Before dicom-parser sees a byte, the data set's structure is walked (structure.ts) element by
 * element as dicom-parser will parse it, and counted against the budget. A deflated data set is inflated as a stream whose cap is derived from what
 * its header declares: the header itself may take MAX_HEADER_BYTES, then the Pixel Data its
 * declared frames, then MAX_TRAILER_BYTES. Files without the Part 10 preamble (old archives hold
 * bare data sets) are read with their transfer syntax inferred, as dcmtk and pydicom do.
 */
import dicomParser from 'dicom-parser';
import { createInflateRaw } from 'node:zlib';
import { quoted, TriageError } from '../../errors/index.js';
import { MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_TRAILER_BYTES } from '../budget.js';
import { walkStructure } from './structure.js';
import type { Encoding, Structure } from './structure.js';

export type DataSet = dicomParser.DataSet;
export type Element = dicomParser.Element;

const PREAMBLE_LENGTH = 128;
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';

/** A file meta group without the 128-byte preamble and "DICM": with them put back. */
function withPreamble(bytes: Uint8Array): Uint8Array {
  const whole = new Uint8Array(PREAMBLE_LENGTH + 4 + bytes.length);
  whole.set([0x44, 0x49, 0x43, 0x4d], PREAMBLE_LENGTH);
  whole.set(bytes, PREAMBLE_LENGTH + 4);
  return whole;
}

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

/** The value representations DICOM defines: two letters that make an explicit VR element. */
const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '),
);

/**
 * A data set without the Part 10 preamble: its first element's group must be a plausible one
 * (0002 for a file meta group without preamble, else 0008 or another standard group below the
 * pixel data's), read little or big endian, its VR bytes say explicit or implicit, and its length
 * must fit the file. The transfer syntax it implies, or null: not DICOM.
 */
export function inferRawSyntax(
  bytes: Uint8Array,
  fileLength = bytes.length,
): { uid: string; metaWithoutPreamble: boolean } | null {
  if (bytes.length < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vr = String.fromCharCode(bytes[4], bytes[5]);
  const explicit = VRS.has(vr);
  for (const littleEndian of [true, false]) {
    const group = view.getUint16(0, littleEndian);
    const element = view.getUint16(2, littleEndian);
    // Standard groups are even, 0002 to 7FE0; a data set starts low (0002, 0008, 0010, 0018...).
    if (group < 0x0002 || group > 0x0028 || group % 2 !== 0 || element > 0x1000) continue;
    if (group === 0x0002) {
      // File meta information: always explicit VR little endian.
      if (!littleEndian || !explicit) continue;
      return { uid: EXPLICIT_LE, metaWithoutPreamble: true };
    }
    const long = explicit && ['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT'].includes(vr);
    if (long && bytes.length < 12) continue;
    const length = explicit
      ? long
        ? view.getUint32(8, littleEndian)
        : view.getUint16(6, littleEndian)
      : view.getUint32(4, littleEndian);
    if (length !== 0xffffffff && length > fileLength) continue;
    if (!littleEndian && !explicit) continue; // implicit VR big endian does not exist
    return { uid: explicit ? (littleEndian ? EXPLICIT_LE : EXPLICIT_BE) : IMPLICIT_LE, metaWithoutPreamble: false };
  }
  return null;
}

/** Whether a file's first bytes are those of a bare data set (see inferRawSyntax). */
export function looksLikeRawDataSet(bytes: Uint8Array, fileLength = bytes.length): boolean {
  return !hasPart10Prefix(bytes) && inferRawSyntax(bytes, fileLength) !== null;
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

function parserError(thrown: unknown): TriageError {
  if (thrown instanceof TriageError) return thrown;
  const message = parserMessage(thrown);
  if (/missing required meta header attribute 0002,0010/.test(message)) {
    return new TriageError('MALFORMED', 'The file meta information has no Transfer Syntax UID (0002,0010).');
  }
  if (TRUNCATION.test(message)) {
    return new TriageError('TRUNCATED', `The DICOM file ends before the data it announces (${message}).`);
  }
  return new TriageError('MALFORMED', `The DICOM structure is corrupt (${message}).`);
}

/**
 * The file meta group of a Part 10 file, walked as dicom-parser's readPart10Header reads it (which
 * reads the first element after the group whole before it stops there, so that element is counted
 * against the budget too): where the data set starts, and its transfer syntax.
 */
function readMeta(bytes: Uint8Array): { end: number; uid: string } {
  const meta = walkStructure(bytes, PREAMBLE_LENGTH + 4, encodingOf(EXPLICIT_LE), { meta: true });
  const uid = meta.transferSyntax;
  if (!uid) throw new TriageError('MALFORMED', 'The file meta information has no Transfer Syntax UID (0002,0010).');
  // dicom-parser decides the data set's encoding on the UID exactly as written: padded with
  // spaces, an implicit, big-endian or deflated syntax would be parsed as explicit little endian,
  // and the walk (which follows dicom-parser) would count another structure than the one meant.
  if (uid !== uid.trim() && [IMPLICIT_LE, EXPLICIT_BE, DEFLATED].includes(uid.trim())) {
    throw new TriageError(
      'MALFORMED',
      `The Transfer Syntax UID ${quoted(uid)} is padded with spaces (a UID is padded with a NUL); the data set's encoding is ambiguous.`,
    );
  }
  return { end: meta.end, uid };
}

function encodingOf(uid: string): Encoding {
  return { explicit: uid !== IMPLICIT_LE, littleEndian: uid !== EXPLICIT_BE };
}

/**
 * The cap on a deflated data set's inflated size, from what the header walked so far declares:
 * the header (up to MAX_HEADER_BYTES) until the Pixel Data is met, then its declared frames
 * (rows x columns x samples x bits, times the frames) and a trailer.
 */
function inflateCap(start: number, structure: Structure | null): number {
  const pixelData = structure?.pixelData;
  if (!pixelData) return start + MAX_HEADER_BYTES;
  const { rows, columns, bitsAllocated, samplesPerPixel, frames } = structure.image;
  const frameBytes =
    rows !== null && columns !== null && bitsAllocated !== null
      ? Math.ceil((rows * columns * (samplesPerPixel ?? 1) * bitsAllocated) / 8)
      : 0;
  const declared = frameBytes * Math.max(1, frames ?? 1);
  return Math.min(
    MAX_FILE_BYTES,
    pixelData.valueOffset + Math.min(declared, Math.max(0, pixelData.length)) + MAX_TRAILER_BYTES,
  );
}

/**
 * Inflates a deflated data set (after the meta group at `start`) as a stream, walking the header
 * as it grows so the cap follows what the file declares; beyond the cap, TOO_LARGE, with at most
 * the cap in memory. Resolves to the file's bytes with the data set inflated.
 */
async function inflateDataSet(bytes: Uint8Array, start: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let inflated = 0;
  let structure: Structure | null = null;
  let nextLook = 64 * 1024;
  const whole = () => {
    const full = new Uint8Array(start + inflated);
    full.set(bytes.subarray(0, start), 0);
    let at = start;
    for (const chunk of chunks) {
      full.set(chunk, at);
      at += chunk.length;
    }
    return full;
  };
  await new Promise<void>((resolve, reject) => {
    const inflater = createInflateRaw({ chunkSize: 256 * 1024 });
    let failed = false;
    const fail = (error: TriageError) => {
      if (failed) return;
      failed = true;
      inflater.destroy();
      reject(error);
    };
    inflater.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      inflated += chunk.length;
      // The header walked again as it grows (a few times: each look doubles the next), until
      // the Pixel Data is met: then the cap is what the header declares.
      if (!structure?.pixelData && inflated >= nextLook) {
        nextLook *= 2;
        try {
          // From the file's first byte, as dicom-parser parses an inflated data set (preamble included).
          structure = walkStructure(whole(), 0, encodingOf(EXPLICIT_LE), { partial: true });
        } catch (error) {
          fail(error as TriageError);
          return;
        }
      }
      const cap = inflateCap(start, structure);
      if (start + inflated > cap) {
        fail(
          new TriageError(
            'TOO_LARGE',
            structure?.pixelData
              ? `The deflated data set inflates beyond the ${cap.toLocaleString('en')} bytes its header declares.`
              : `The deflated data set's header inflates beyond ${MAX_HEADER_BYTES.toLocaleString('en')} bytes; a radiograph's is far smaller.`,
          ),
        );
      }
    });
    inflater.on('error', (error: NodeJS.ErrnoException) => {
      // A deflate stream that ends early is the usual way a deflated file is damaged.
      const truncated = error.code === 'Z_BUF_ERROR' || /unexpected end/i.test(error.message);
      fail(
        new TriageError(
          truncated ? 'TRUNCATED' : 'MALFORMED',
          `The deflated data set cannot be inflated (${error.message}).`,
        ),
      );
    });
    inflater.on('end', () => {
      if (!failed) resolve();
    });
    inflater.end(bytes.subarray(start));
  });
  return whole();
}

/**
 * Parses a whole DICOM file: Part 10 (any transfer syntax, deflated ones inflated within the
 * budget), a file meta group without the preamble, or a bare data set in implicit VR little
 * endian, explicit VR little endian or explicit VR big endian.
 */
export async function parseDataSet(input: Uint8Array): Promise<DataSet> {
  let bytes = input;
  let part10 = hasPart10Prefix(bytes);
  const raw = part10 ? null : inferRawSyntax(bytes);
  if (!part10 && !raw) {
    throw new TriageError('NOT_DICOM', 'The file is not DICOM (no "DICM" prefix at byte 128) nor a PNG or JPEG image.');
  }
  if (raw?.metaWithoutPreamble) {
    bytes = withPreamble(bytes);
    part10 = true;
  }
  if (!part10) {
    walkStructure(bytes, 0, encodingOf(raw!.uid));
    try {
      return dicomParser.parseDicom(bytes, { TransferSyntaxUID: raw!.uid } as dicomParser.ParseDicomOptions);
    } catch (thrown) {
      throw parserError(thrown);
    }
  }
  const meta = readMeta(bytes);
  let full = bytes;
  if (meta.uid === DEFLATED) {
    full = await inflateDataSet(bytes, meta.end);
    // dicom-parser parses the inflated buffer from its first byte (the preamble and meta group as
    // elements too): the walk does the same.
    walkStructure(full, 0, encodingOf(EXPLICIT_LE));
  } else {
    walkStructure(bytes, meta.end, encodingOf(meta.uid));
  }
  try {
    return dicomParser.parseDicom(bytes, { inflater: () => full } as dicomParser.ParseDicomOptions);
  } catch (thrown) {
    throw parserError(thrown);
  }
}

/**
 * The header of a DICOM file, everything before its Pixel Data, from `prefix`, the file's first
 * bytes (at most MAX_HEADER_BYTES past the meta group need be there): the data set is parsed up
 * to the Pixel Data element and never past it, within the same budget. A header that does not
 * end within the prefix is TOO_LARGE; one that stops early, TRUNCATED. A deflated data set is
 * inflated whole (parseDataSet), so `prefix` must then be the whole file.
 */
export async function parseDicomHeader(prefix: Uint8Array, fileSize: number): Promise<DataSet> {
  const header = parseHeaderSync(prefix, fileSize);
  return 'deflated' in header ? parseDataSet(header.deflated) : header.dataSet;
}

/**
 * parseDicomHeader without waiting: the data set, and where the Pixel Data's value starts in the
 * file and its length (-1: undefined, encapsulated), as the walk found them (null when the header
 * has none); or, for a deflated data set (inflated whole, so its offsets are not the file's), the
 * bytes parseDataSet must inflate.
 */
export function parseHeaderSync(
  prefix: Uint8Array,
  fileSize: number,
): { dataSet: DataSet; pixelData: { valueOffset: number; length: number } | null } | { deflated: Uint8Array } {
  const whole = prefix.length >= fileSize;
  let bytes = prefix;
  let part10 = hasPart10Prefix(bytes);
  const raw = part10 ? null : inferRawSyntax(bytes, fileSize);
  if (!part10 && !raw) {
    throw new TriageError('NOT_DICOM', 'The file is not DICOM (no "DICM" prefix at byte 128).');
  }
  if (raw?.metaWithoutPreamble) {
    bytes = withPreamble(bytes);
    part10 = true;
  }
  let start = 0;
  let uid = raw?.uid ?? EXPLICIT_LE;
  if (part10) {
    const meta = readMeta(bytes);
    if (meta.uid === DEFLATED) {
      if (!whole) throw new TriageError('TOO_LARGE', 'A deflated data set is read whole; the file was not.');
      return { deflated: bytes };
    }
    start = meta.end;
    uid = meta.uid;
  }
  const encoding = encodingOf(uid);
  const found = walkStructure(bytes, start, encoding, { partial: !whole });
  let end = bytes.length;
  if (found.pixelData) {
    end = found.pixelData.valueOffset - (encoding.explicit ? 12 : 8);
  } else if (!whole) {
    throw new TriageError(
      'TOO_LARGE',
      `The DICOM header runs past ${MAX_HEADER_BYTES.toLocaleString('en')} bytes without reaching the Pixel Data; a radiograph's is far smaller.`,
    );
  }
  const header = bytes.subarray(0, end);
  walkStructure(header, start, encoding);
  // A meta group without its preamble was parsed with one put in front: 128 bytes more.
  const shift = bytes === prefix ? 0 : bytes.length - prefix.length;
  const pixelData = found.pixelData && { ...found.pixelData, valueOffset: found.pixelData.valueOffset - shift };
  try {
    const dataSet = part10
      ? dicomParser.parseDicom(header)
      : dicomParser.parseDicom(header, { TransferSyntaxUID: uid } as dicomParser.ParseDicomOptions);
    return { dataSet, pixelData };
  } catch (thrown) {
    throw parserError(thrown);
  }
}
