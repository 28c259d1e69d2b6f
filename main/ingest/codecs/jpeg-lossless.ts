/**
 * JPEG lossless (process 14, any selection value) with Cornerstone's maintained fork of
 * jpeg-lossless-decoder-js: the original (2.1.2) returns 0 for the last sample of frames that end
 * in a flat run, as dcmtk writes them; the fork decodes them exactly (a test keeps it so).
 */
import { Decoder } from '@cornerstonejs/jpeg-lossless-decoder-js';
import { TriageError } from '../../errors/index.js';
import { checkAgainstAttributes, readJpegHeader } from './codestream.js';
import type { DecodedFrame, FrameRequest } from './types.js';

export function decodeJpegLossless({ bytes, description }: FrameRequest): DecodedFrame {
  const header = readJpegHeader(bytes);
  checkAgainstAttributes(header, description);
  const bytesPerSample = header.precision > 8 ? 2 : 1;
  const decoded = new Decoder().decode(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, bytesPerSample);
  const expected = description.rows * description.columns * description.samplesPerPixel;
  const samples =
    bytesPerSample === 2
      ? new Uint16Array(decoded.buffer, decoded.byteOffset, decoded.byteLength >> 1)
      : new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  if (samples.length < expected) {
    throw new TriageError('TRUNCATED', `The JPEG lossless frame decoded to ${samples.length} of ${expected} samples.`);
  }
  return {
    rows: description.rows,
    columns: description.columns,
    samples: samples.subarray(0, expected),
    planar: false,
    convertedToRgb: false,
    level: 0,
  };
}
