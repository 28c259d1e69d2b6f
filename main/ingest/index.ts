/**
 * The ingest stage: a file (DICOM above all, PNG or JPEG too) to a Radiograph. Format is decided by
 * content, never by extension, because archives are full of DICOM files without one.
 */
import { createHash } from 'node:crypto';
import { TriageError, toTriageError } from '../errors/index.js';
import { MAX_HEADER_BYTES, SNIFF_BYTES } from './budget.js';
import { openFile, readError, readInto } from './files.js';
import { hasPart10Prefix, looksLikeRawDataSet, parseDicomHeader } from './dicom/parse.js';
import type { DataSet } from './dicom/parse.js';
import { readDicom } from './dicom/read.js';
import type { DecodeOptions } from './dicom/read.js';
import { decodeJpegFile, isJpeg } from './raster/jpeg.js';
import { isPng, readPng } from './raster/png.js';
import type { RasterImage } from './raster/png.js';
import { emptyMetadata } from './radiograph.js';
import type { SourceFormat } from '../common/index.js';
import type { Radiograph } from './radiograph.js';

export type { DecodeOptions } from './dicom/read.js';
export { openDicomRows } from './dicom/rows.js';
export type { DicomRows } from './dicom/rows.js';
export type * from './radiograph.js';
export { displayRowRenderer, displayWordLevels, renderDisplay, wordLevels } from './pixels/display.js';
export type { DisplayRowRenderer } from './pixels/display.js';
export { decodePng, encodeGreyPng, encodeRgbaPng } from './raster/png.js';
export type { RasterImage } from './raster/png.js';
export { parseDataSet, parseDicomHeader } from './dicom/parse.js';
export { TRANSFER_SYNTAXES } from './dicom/transfer-syntax.js';
export type { TransferSyntaxInfo } from './dicom/transfer-syntax.js';
export { readStudyIdentity, readStudyIdentityFields } from './dicom/identity.js';
export { decoderFor, exactDecoder } from './dicom/charset.js';
export type { Decode } from './dicom/charset.js';
export { storedPixels } from './pixels/stored.js';
export { decodeSummary, modalityBytes } from './summary.js';
export type { DecodeSummary } from './summary.js';
export type { DataSet } from './dicom/parse.js';

export { MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_PIXELS, MAX_SIDE } from './budget.js';

/** The format a file's first bytes say (`fileLength`: the whole file's, when only a prefix is given). */
export function sniffFormat(bytes: Uint8Array, fileLength = bytes.length): SourceFormat | null {
  if (hasPart10Prefix(bytes)) return 'dicom';
  if (isPng(bytes)) return 'png';
  if (isJpeg(bytes)) return 'jpeg';
  if (looksLikeRawDataSet(bytes, fileLength)) return 'dicom';
  return null;
}

/**
 * One buffer that a thread reading files one after another (a decode worker) reads each file
 * into, instead of a new one per file: a scan then allocates no file-sized memory per image,
 * and no garbage that the collector (which frees external memory late) lets pile up. What is
 * decoded from it may point into it (uncompressed samples do), so a radiograph read with a
 * ReadBuffer is valid only until the next read with the same buffer.
 */
export class ReadBuffer {
  /** Files larger than this get their own memory, so one huge file does not stay held. */
  static readonly MAX_KEPT_BYTES = 64 * 1024 * 1024;
  private bytes = new Uint8Array(0);

  /** Memory for `size` bytes: this buffer's (grown when needed), or a new one beyond MAX_KEPT_BYTES. */
  take(size: number): Uint8Array {
    if (size > ReadBuffer.MAX_KEPT_BYTES) return new Uint8Array(size);
    // An eighth to spare: files of a scan differ a little in size, and each regrowth is garbage.
    if (size > this.bytes.length)
      this.bytes = new Uint8Array(Math.min(ReadBuffer.MAX_KEPT_BYTES, Math.ceil(size * 1.125)));
    return this.bytes.subarray(0, size);
  }
}

/**
 * Reads a whole file, into `buffer`'s memory when one is lent (see ReadBuffer): `size` bytes (as a
 * stat gave it), or with `size` null as many as the open file has (a file still growing is read
 * as it is now, not as an earlier stat saw it). A file that shrank since is what is there. Errors
 * are coded (TriageError): not a regular file, too large, or the file system's.
 */
export async function readWhole(file: string, size: number | null, buffer?: ReadBuffer): Promise<Uint8Array> {
  const opened = await openFile(file);
  try {
    const length = Math.min(size ?? opened.size, opened.size);
    const target = buffer ? buffer.take(length) : new Uint8Array(length);
    const filled = await readInto(opened.handle, target, 0, length).catch((error: unknown) => {
      throw readError(file, error);
    });
    return target.subarray(0, filled);
  } finally {
    await opened.handle.close();
  }
}

/**
 * A file's first SNIFF_BYTES (enough to know its format) and its size as it is now, without
 * reading the rest.
 */
export async function readHead(file: string): Promise<{ head: Uint8Array; size: number }> {
  const { handle, size } = await openFile(file);
  try {
    const head = new Uint8Array(Math.min(size, SNIFF_BYTES));
    const read = await readInto(handle, head, 0, head.length);
    return { head: head.subarray(0, read), size };
  } catch (error) {
    throw readError(file, error);
  } finally {
    await handle.close();
  }
}

/**
 * A DICOM file's header (everything before the Pixel Data) as a data set, reading at most the
 * meta group and MAX_HEADER_BYTES of it, never the pixels (a deflated file, rare, is read whole
 * within MAX_FILE_BYTES). Failures are coded: NOT_DICOM, TRUNCATED, MALFORMED, TOO_LARGE, or the
 * file system's.
 */
export async function readDicomHeader(file: string): Promise<DataSet> {
  const { handle, size } = await openFile(file);
  let prefix: Uint8Array;
  try {
    prefix = new Uint8Array(Math.min(size, MAX_HEADER_BYTES + 64 * 1024));
    prefix = prefix.subarray(0, await readInto(handle, prefix, 0, prefix.length));
    if (prefix.length < size && isDeflated(prefix)) {
      const all = new Uint8Array(size);
      prefix = all.subarray(0, await readInto(handle, all, 0, size));
    }
  } catch (error) {
    throw readError(file, error);
  } finally {
    await handle.close();
  }
  try {
    return await parseDicomHeader(prefix, size);
  } catch (error) {
    throw readError(file, error);
  }
}

/** The deflated transfer syntax UID in a Part 10 file's meta group (its first kilobyte). */
function isDeflated(prefix: Uint8Array): boolean {
  return Buffer.from(prefix.subarray(0, 1024)).toString('latin1').includes('1.2.840.10008.1.2.1.99');
}

/** The SHA-256 of a whole file, read as a stream (a file that is no image is never held whole). */
export async function hashFile(file: string): Promise<string> {
  const { handle, size } = await openFile(file);
  try {
    const hash = createHash('sha256');
    const chunk = new Uint8Array(Math.min(size, 1024 * 1024));
    for (let at = 0; at < size;) {
      const read = await readInto(handle, chunk, 0, Math.min(chunk.length, size - at), at);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
      at += read;
    }
    return hash.digest('hex');
  } catch (error) {
    throw readError(file, error);
  } finally {
    await handle.close();
  }
}

/**
 * Reads an image file: its first SNIFF_BYTES first, and the rest only when they are those of a
 * DICOM, PNG or JPEG file (a 2 GB video costs a kilobyte, not 2 GB). With a ReadBuffer the bytes
 * are its memory, valid until its next use.
 */
export async function readImageFile(file: string, buffer?: ReadBuffer): Promise<Uint8Array> {
  const { handle, size } = await openFile(file);
  try {
    const target = buffer ? buffer.take(size) : new Uint8Array(size);
    const head = await readInto(handle, target, 0, Math.min(size, SNIFF_BYTES));
    if (sniffFormat(target.subarray(0, head), size) === null) {
      throw new TriageError(
        head === 0 ? 'TRUNCATED' : 'NOT_DICOM',
        head === 0 ? 'The file is empty.' : 'The file is not DICOM, PNG or JPEG; nothing to read.',
        { file },
      );
    }
    const rest = head < Math.min(size, SNIFF_BYTES) ? 0 : await readInto(handle, target, head, size - head);
    return target.subarray(0, head + rest);
  } catch (error) {
    throw readError(file, error);
  } finally {
    await handle.close();
  }
}

function fromRaster(file: string, format: SourceFormat, raster: RasterImage): Radiograph {
  let min = Infinity;
  let max = -Infinity;
  for (const value of raster.values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const full = 2 ** raster.bitDepth - 1;
  return {
    file,
    format,
    transferSyntax: null,
    rows: raster.height,
    columns: raster.width,
    pixels: raster.values,
    photometric: 'MONOCHROME2',
    bitsAllocated: raster.bitDepth > 8 ? 16 : 8,
    bitsStored: raster.bitDepth,
    signed: false,
    rescale: { slope: 1, intercept: 0 },
    range: { min, max },
    invert: false,
    // A PNG or JPEG is already a display rendering: show it as stored.
    window: { center: (full + 1) / 2, width: full + 1, source: 'bit-depth' },
    voiLut: null,
    padding: null,
    resolution: null,
    metadata: emptyMetadata(),
  };
}

/**
 * Decodes a file's bytes that are already in memory. The radiograph may point into them
 * (uncompressed samples are read where they lie): leave them unchanged while it is in use.
 */
export async function decodeRadiograph(
  file: string,
  input: Uint8Array,
  options: DecodeOptions = {},
): Promise<Radiograph> {
  // A plain Uint8Array view: a Node Buffer's slice() shares memory, which codecs must not assume.
  const bytes = Buffer.isBuffer(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : input;
  try {
    switch (sniffFormat(bytes)) {
      case 'dicom':
        return await readDicom(file, bytes, options);
      case 'png':
        return fromRaster(file, 'png', await readPng(bytes));
      case 'jpeg':
        return fromRaster(file, 'jpeg', await decodeJpegFile(bytes));
      default:
        throw new TriageError(
          bytes.length === 0 ? 'TRUNCATED' : 'NOT_DICOM',
          bytes.length === 0 ? 'The file is empty.' : 'The file is not DICOM, PNG or JPEG; nothing to read.',
        );
    }
  } catch (error) {
    throw toTriageError(error, file);
  }
}

/**
 * Reads and decodes one file. Every failure is a TriageError carrying the file's path. With a
 * ReadBuffer the file is read into it, and the radiograph is valid until its next use.
 */
export async function readRadiograph(
  file: string,
  options: DecodeOptions = {},
  buffer?: ReadBuffer,
): Promise<Radiograph> {
  const bytes = await readImageFile(file, buffer).catch((error: unknown) => {
    throw toTriageError(error, file);
  });
  return decodeRadiograph(file, bytes, options);
}
