/**
 * The ingest stage: a file (DICOM above all, PNG or JPEG too) to a Radiograph. Format is decided by
 * content, never by extension, because archives are full of DICOM files without one.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { TriageError, toTriageError } from '../errors/index.js';
import { fsPath } from '../paths/index.js';
import { hasPart10Prefix, looksLikeRawDataSet } from './dicom/parse.js';
import { readDicom } from './dicom/read.js';
import type { DecodeOptions } from './dicom/read.js';
import { decodeJpegFile, isJpeg } from './raster/jpeg.js';
import { decodePng, isPng } from './raster/png.js';
import type { RasterImage } from './raster/png.js';
import { emptyMetadata } from './radiograph.js';
import type { SourceFormat } from '../common/index.js';
import type { Radiograph } from './radiograph.js';

export type { DecodeOptions } from './dicom/read.js';
export type * from './radiograph.js';
export { displayRowRenderer, displayWordLevels, renderDisplay } from './pixels/display.js';
export type { DisplayRowRenderer } from './pixels/display.js';
export { decodePng, encodeGreyPng, encodeRgbaPng } from './raster/png.js';
export type { RasterImage } from './raster/png.js';
export { parseDataSet } from './dicom/parse.js';
export { storedPixels } from './pixels/stored.js';
export type { DataSet } from './dicom/parse.js';

/** No chest radiograph file comes near this; anything larger is refused before it is read. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export function sniffFormat(bytes: Uint8Array): SourceFormat | null {
  if (hasPart10Prefix(bytes)) return 'dicom';
  if (isPng(bytes)) return 'png';
  if (isJpeg(bytes)) return 'jpeg';
  if (looksLikeRawDataSet(bytes)) return 'dicom';
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
 * Reads a file into `buffer`'s memory: `size` bytes (as a stat gave it), or with `size` null as
 * many as the open file has (a file still growing is read as it is now, not as an earlier stat
 * saw it). A file that shrank since is what is there. Errors are the file system's, for the
 * caller to code.
 */
export async function readWhole(file: string, size: number | null, buffer: ReadBuffer): Promise<Uint8Array> {
  const handle = await open(fsPath(file), 'r');
  try {
    size ??= (await handle.stat()).size;
    if (size > MAX_FILE_BYTES)
      throw new TriageError('TOO_LARGE', `The file is ${size} bytes; radiographs are far smaller.`, { file });
    const target = buffer.take(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(target, filled, size - filled, filled);
      if (bytesRead === 0) break; // the file shrank since stat: what is there is the file
      filled += bytesRead;
    }
    return target.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

async function readBytes(file: string, buffer?: ReadBuffer): Promise<Uint8Array> {
  try {
    const info = await stat(fsPath(file));
    if (!info.isFile()) throw new TriageError('UNREADABLE', 'The path is not a regular file.', { file });
    if (info.size > MAX_FILE_BYTES) {
      throw new TriageError('TOO_LARGE', `The file is ${info.size} bytes; radiographs are far smaller.`, { file });
    }
    return buffer ? await readWhole(file, info.size, buffer) : await readFile(fsPath(file));
  } catch (error) {
    if (error instanceof TriageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new TriageError('FILE_NOT_FOUND', 'The file does not exist; check the path.', { file });
    }
    throw new TriageError(
      'UNREADABLE',
      `The file cannot be read (${code ?? 'unknown error'}); check its permissions.`,
      { file },
    );
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
        return fromRaster(file, 'png', decodePng(bytes));
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
  const bytes = await readBytes(file, buffer).catch((error: unknown) => {
    throw toTriageError(error, file);
  });
  return decodeRadiograph(file, bytes, options);
}
