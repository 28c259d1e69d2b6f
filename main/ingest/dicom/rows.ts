/**
 * An uncompressed grey DICOM read a few rows at a time: its header is parsed from the file's
 * first bytes, and its sample rows are read on demand, straight into the caller's memory, so a
 * stage that needs only part of the image at a time (the preprocess stage's area resize, which
 * reads the crop's rows in order) never holds the whole file. Reading a 10 MB file into one
 * buffer costs more than its pixels' arithmetic on some machines (the memory it writes is not in
 * the cache); reading it in chunks the size of the L2 cache does not.
 *
 * Only files whose whole-file reading (readDicom) would give exactly these rows and attributes
 * are opened this way; for any other, and for any file this module finds wrong, openDicomRows
 * answers null and the caller reads the file whole, which then gives its result or its error:
 * - a Part 10 file, not deflated, its header within 1 MiB, an uncompressed little-endian
 *   transfer syntax, and nothing after the Pixel Data (the whole-file parse also reads what
 *   follows it, and could refuse it);
 * - one grey sample of 8 or 16 bits, MONOCHROME1 or 2, and as many pixels as toModality needs to
 *   index the samples (IndexedPixels): the same word tables, so the same values;
 * - a window or a VOI LUT in the file (the automatic window needs every pixel first);
 * - at least one pixel that is not padding (the whole-file read refuses an empty image).
 */
import { closeSync, readSync } from 'node:fs';
import { TriageError } from '../../errors/index.js';
import { openRegularFileSync } from '../files.js';
import { isIndexable, wordTables } from '../pixels/modality.js';
import type { WordTables } from '../pixels/modality.js';
import type { RadiographFields } from '../radiograph.js';
import { nativeFrameBytes } from './frames.js';
import { hasPart10Prefix, parseHeaderSync } from './parse.js';
import { checkIsImage, describeImage, fileWindow, radiographFields } from './read.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** The prefixes read for the header, in turn: a radiograph's is a few kilobytes, with a VOI LUT up to 128 more. */
const HEADER_BYTES = [64 * 1024, 1024 * 1024];

export interface DicomRows {
  /** The radiograph's fields as readDicom gives them (the window is the file's). */
  radiograph: RadiographFields;
  /** The word tables of its samples, as toModality makes them. */
  tables: WordTables;
  /** Bytes per sample word. */
  bytesPerSample: 1 | 2;
  /**
   * Reads rows [row, row + count) of the first frame into `target` (count x columns sample
   * words, little endian), synchronously: a TRUNCATED error if the file has shrunk since.
   */
  read(row: number, count: number, target: Uint8Array): void;
  close(): void;
}

/**
 * The file's rows, or null when it is not such a file (see the module's comment). Synchronous
 * file operations: this serves a thread that prepares one file at a time (a decode worker), for
 * which waiting on libuv's thread pool per operation costs more than the operation.
 */
export function openDicomRows(file: string): DicomRows | null {
  const opened = openRegularFileSync(file);
  if (!opened) return null; // the whole-file read gives the error
  let rows: DicomRows | null = null;
  try {
    rows = describe(file, opened.fd, opened.size);
    return rows;
  } catch {
    return null;
  } finally {
    if (!rows) closeSync(opened.fd);
  }
}

/** Reads `length` bytes at `position` into `target` from 0; false when the file ends sooner. */
function readFully(fd: number, target: Uint8Array, length: number, position: number): boolean {
  for (let filled = 0; filled < length;) {
    const got = readSync(fd, target, filled, length - filled, position + filled);
    if (got === 0) return false;
    filled += got;
  }
  return true;
}

/**
 * The header from the file's first HEADER_BYTES, or a larger prefix when it runs past them (a
 * VOI LUT of 65,536 entries takes 128 KiB); null when it is not a Part 10 file.
 */
function readHeader(fd: number, size: number): ReturnType<typeof parseHeaderSync> | null {
  for (const bytes of HEADER_BYTES) {
    const prefix = new Uint8Array(Math.min(size, bytes));
    if (!readFully(fd, prefix, prefix.length, 0) || !hasPart10Prefix(prefix)) return null;
    try {
      return parseHeaderSync(prefix, size);
    } catch (error) {
      // Past the prefix (TOO_LARGE): the next, larger one; anything else is the file's own.
      if (prefix.length === size || !(error instanceof TriageError && error.code === 'TOO_LARGE')) throw error;
    }
  }
  return null;
}

function describe(file: string, fd: number, size: number): DicomRows | null {
  // The caller's typed arrays hold the file's little-endian words as they are only on such a host.
  if (!HOST_LITTLE_ENDIAN) return null;
  const header = readHeader(fd, size);
  if (!header || 'deflated' in header) return null;
  const { dataSet, pixelData } = header;
  if (!pixelData || pixelData.length < 0) return null;
  checkIsImage(dataSet, true);
  const { syntax, description } = describeImage(dataSet, false);
  const { columns, rows: height, photometric, bitsAllocated } = description;
  if (syntax.encapsulated || syntax.bigEndian || description.samplesPerPixel !== 1) return null;
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') return null;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) return null;
  const bytes = bitsAllocated === 8 ? 1 : 2;
  if (!isIndexable(description, bytes, height * columns)) return null;
  // The first frame's bytes must be there, and the file must end with the Pixel Data.
  if (pixelData.length < nativeFrameBytes(description) || pixelData.valueOffset + pixelData.length !== size)
    return null;
  const { window, voiLut } = fileWindow(dataSet, description);
  if (!window) return null;
  const tables = wordTables(description, bytes);
  const size2d = { rows: height, columns, level: 0 };
  const fields = radiographFields(file, dataSet, syntax, description, size2d, window, voiLut);
  const rowBytes = fields.columns * bytes;
  const read = (row: number, count: number, target: Uint8Array): void => {
    const length = count * rowBytes;
    if (!(row >= 0 && count >= 0 && row + count <= fields.rows && target.length >= length))
      throw new RangeError(`rows ${row} to ${row + count} of ${fields.rows} into ${target.length} bytes`);
    if (!readFully(fd, target, length, pixelData.valueOffset + row * rowBytes))
      throw new TriageError('TRUNCATED', 'The file became shorter while it was read.', { file });
  };
  if (tables.padding && !hasImagePixel(fields, tables, bytes, read)) return null;
  return { radiograph: fields, tables, bytesPerSample: bytes, read, close: () => closeSync(fd) };
}

/**
 * Whether any pixel is not padding: the middle row first (a radiograph's is, as a rule), then
 * every row, a chunk at a time.
 */
function hasImagePixel(
  fields: RadiographFields,
  { padding, wordMask }: WordTables,
  bytes: 1 | 2,
  read: DicomRows['read'],
): boolean {
  const { rows, columns } = fields;
  const chunkRows = Math.max(1, Math.floor((256 * 1024) / (columns * bytes)));
  const chunk = new Uint8Array(chunkRows * columns * bytes);
  const words = bytes === 2 ? new Uint16Array(chunk.buffer) : chunk;
  const anyImage = (row: number, count: number): boolean => {
    read(row, count, chunk);
    for (let i = 0; i < count * columns; i++) if (!padding![words[i] & wordMask]) return true;
    return false;
  };
  if (anyImage(rows >> 1, 1)) return true;
  for (let row = 0; row < rows; row += chunkRows) if (anyImage(row, Math.min(chunkRows, rows - row))) return true;
  return false;
}
