/** Plain JPEG files (not DICOM): 8-bit baseline or progressive, grey or colour, via libjpeg-turbo. */
import { TriageError } from '../../errors/index.js';
import { decodeJpeg8 } from '../codecs/jpeg-baseline.js';
import { checkJpegBudget, readJpegHeader } from '../codecs/codestream.js';
import type { RasterImage } from './png.js';
import { toGrey } from './png.js';

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export async function decodeJpegFile(bytes: Uint8Array): Promise<RasterImage> {
  const header = readJpegHeader(bytes);
  if (header.precision !== 8) {
    throw new TriageError(
      'UNSUPPORTED_TRANSFER_SYNTAX',
      `JPEG files of ${header.precision}-bit precision are read only inside DICOM.`,
    );
  }
  if (header.width === 0 || header.height === 0) {
    throw new TriageError('MALFORMED', `The JPEG declares ${header.width} x ${header.height} pixels.`);
  }
  checkJpegBudget(bytes, header);
  let decoded: Awaited<ReturnType<typeof decodeJpeg8>>;
  try {
    decoded = await decodeJpeg8(bytes);
  } catch (error) {
    if (error instanceof TriageError) throw error;
    throw new TriageError('DECODE_FAILED', `The JPEG file cannot be decoded (${String(error)}).`);
  }
  if (decoded.samples.length < decoded.width * decoded.height * decoded.components) {
    throw new TriageError('TRUNCATED', 'The JPEG file decoded to fewer pixels than it declares.');
  }
  return {
    width: decoded.width,
    height: decoded.height,
    values: toGrey(decoded.samples, decoded.width, decoded.height, decoded.components),
    bitDepth: 8,
  };
}
