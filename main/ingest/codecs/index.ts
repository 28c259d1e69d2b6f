/** Dispatch from a transfer syntax's codec to its decoder. */
import type { CodecId } from '../dicom/transfer-syntax.js';
import { decodeJpegBaseline } from './jpeg-baseline.js';
import { decodeJpegExtended } from './jpeg-extended.js';
import { decodeJpegLossless } from './jpeg-lossless.js';
import { decodeJpegLs } from './jpeg-ls.js';
import { decodeHtj2k, decodeJpeg2000 } from './jpeg2000.js';
import { decodeNative } from './native.js';
import { decodeRle } from './rle.js';
import type { FrameDecoder } from './types.js';

export const FRAME_DECODERS: Record<CodecId, FrameDecoder> = {
  native: decodeNative,
  rle: decodeRle,
  'jpeg-baseline': decodeJpegBaseline,
  'jpeg-extended': decodeJpegExtended,
  'jpeg-lossless': decodeJpegLossless,
  'jpeg-ls': decodeJpegLs,
  jpeg2000: decodeJpeg2000,
  htj2k: decodeHtj2k,
};

export type { DecodedFrame, FrameRequest, Samples } from './types.js';
