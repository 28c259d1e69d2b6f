/**
 * What decoding one file may cost, fixed before anything is allocated: every limit an input is
 * checked against lives here, so the ingest's budget can be read in one place. Each is far above
 * what a real chest radiograph needs (the largest CR/DX plates are about 4,300 x 4,300 pixels, a
 * DICOM header a few hundred elements) and far below what hurts a workstation.
 */
import { TriageError } from '../errors/index.js';

/** No radiograph file comes near this; larger files are refused before they are read. */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Bytes read to know a file's format; the rest is read only for an image format. */
export const SNIFF_BYTES = 1024;

/** Largest side and pixel count: 6,000 x 6,000, or a long stitched image of 12,000 x 3,000. */
export const MAX_SIDE = 12_288;
export const MAX_PIXELS = 36_000_000;

/**
 * What a raster image's decoder may hold of samples: a 36-million-pixel image in RGBA or 16-bit
 * grey with alpha, or a smaller one of more bytes per pixel.
 */
export const MAX_DECODED_BYTES = 144 * 1024 * 1024;

/** A PNG's chunks (libpng writes 8 KiB of image data a chunk: 144 MiB of it would be 18,000). */
export const MAX_PNG_CHUNKS = 100_000;

/** A DICOM data set's structure, counted before dicom-parser builds an object per element. */
export const MAX_ELEMENTS = 100_000;
export const MAX_SEQUENCE_ITEMS = 20_000;
export const MAX_NESTING_DEPTH = 16;
export const MAX_FRAGMENTS = 16_384;
/** Everything before the Pixel Data: real headers are well under a megabyte. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** After the pixel data's declared end (trailing padding, private data after it). */
export const MAX_TRAILER_BYTES = 1024 * 1024;

/** A progressive JPEG needs about ten scans; each costs a full pass over the image. */
export const MAX_JPEG_SCANS = 64;

/** The image must fit the pixel ceiling: TOO_LARGE before any decoder allocates it. */
export function checkImageSize(width: number, height: number, what: string): void {
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw new TriageError(
      'TOO_LARGE',
      `${what} claims ${width} x ${height} pixels; more than ${MAX_SIDE} per side or ${MAX_PIXELS.toLocaleString('en')} in all is not a radiograph.`,
    );
  }
}
