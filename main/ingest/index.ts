/**
 * The ingest stage: a file (DICOM above all, PNG or JPEG too) to a Radiograph. Format is decided by
 * content, never by extension, because archives are full of DICOM files without one.
 */
import { readFile, stat } from 'node:fs/promises';
import { TriageError, toTriageError } from '../errors/index.js';
import { hasPart10Prefix, looksLikeRawDataSet } from './dicom/parse.js';
import { readDicom } from './dicom/read.js';
import type { DecodeOptions } from './dicom/read.js';
import { decodeJpegFile, isJpeg } from './raster/jpeg.js';
import { decodePng, isPng } from './raster/png.js';
import type { RasterImage } from './raster/png.js';
import { emptyMetadata } from './radiograph.js';
import type { Radiograph, SourceFormat } from './radiograph.js';

export type { DecodeOptions } from './dicom/read.js';
export type * from './radiograph.js';
export { displayRowRenderer, renderDisplay } from './pixels/display.js';
export type { DisplayRowRenderer } from './pixels/display.js';
export { encodeGreyPng } from './raster/png.js';

/** No chest radiograph file comes near this; anything larger is refused before it is read. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export function sniffFormat(bytes: Uint8Array): SourceFormat | null {
  if (hasPart10Prefix(bytes)) return 'dicom';
  if (isPng(bytes)) return 'png';
  if (isJpeg(bytes)) return 'jpeg';
  if (looksLikeRawDataSet(bytes)) return 'dicom';
  return null;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new TriageError('UNREADABLE', 'The path is not a regular file.', { file });
    if (info.size > MAX_FILE_BYTES) {
      throw new TriageError('TOO_LARGE', `The file is ${info.size} bytes; radiographs are far smaller.`, { file });
    }
    return await readFile(file);
  } catch (error) {
    if (error instanceof TriageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new TriageError('FILE_NOT_FOUND', 'The file does not exist; check the path.', { file });
    }
    throw new TriageError('UNREADABLE', `The file cannot be read (${code ?? 'unknown error'}); check its permissions.`, { file });
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

/** Decodes a file's bytes that are already in memory. */
export async function decodeRadiograph(file: string, input: Uint8Array, options: DecodeOptions = {}): Promise<Radiograph> {
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

/** Reads and decodes one file. Every failure is a TriageError carrying the file's path. */
export async function readRadiograph(file: string, options: DecodeOptions = {}): Promise<Radiograph> {
  const bytes = await readBytes(file).catch((error: unknown) => {
    throw toTriageError(error, file);
  });
  return decodeRadiograph(file, bytes, options);
}
