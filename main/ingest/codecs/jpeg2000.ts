/**
 * JPEG 2000 (OpenJPEG) and HTJ2K (OpenJPH), both WASM. Their codestreams hold resolution levels,
 * so when the caller needs only a small image the decoder stops at a lower level: much faster than
 * decoding full resolution and shrinking it.
 */
import openJpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import openJphFactory from '@cornerstonejs/codec-openjph/wasmjs';
import { checkAgainstAttributes, readJ2kDecompositions, readJ2kHeader } from './codestream.js';
import type { DecodedFrame, FrameRequest } from './types.js';
import { copySamples, lazyModule, quietEmscripten, withModule } from './wasm-module.js';

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}
interface J2kDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  readHeader(): void;
  decode(): void;
  decodeSubResolution(level: number, layer?: number): void;
  getFrameInfo(): FrameInfo;
  getNumDecompositions(): number;
  calculateSizeAtDecompositionLevel(level: number): { width: number; height: number };
  delete(): void;
}
interface J2kModule {
  J2KDecoder?: new () => J2kDecoder;
  HTJ2KDecoder?: new () => J2kDecoder;
}

const openJpeg = lazyModule(() =>
  (openJpegFactory as unknown as (options: object) => Promise<J2kModule>)(quietEmscripten()),
);
const openJph = lazyModule(() =>
  (openJphFactory as unknown as (options: object) => Promise<J2kModule>)(quietEmscripten()),
);

/** The highest level whose shorter side still keeps minShortSide pixels (0 when none is given). */
export function chooseLevel(rows: number, columns: number, decompositions: number, minShortSide?: number): number {
  if (!minShortSide) return 0;
  let level = 0;
  let short = Math.min(rows, columns);
  while (level < decompositions && Math.ceil(short / 2) >= minShortSide) {
    short = Math.ceil(short / 2);
    level++;
  }
  return level;
}

function sideAtLevel(size: number, level: number): number {
  let side = size;
  for (let i = 0; i < level; i++) side = Math.ceil(side / 2);
  return side;
}

function decodeWith(module: J2kModule, request: FrameRequest): DecodedFrame {
  const { bytes, description } = request;
  const Decoder = module.J2KDecoder ?? module.HTJ2KDecoder;
  if (!Decoder) throw new Error('codec module has no decoder class');
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.readHeader();
    // OpenJPEG's wrapper has an empty readHeader(): its getNumDecompositions() means nothing before
    // decode(), so the count comes from the codestream's own COD segment (OpenJPH's is read).
    const decompositions = module.J2KDecoder ? readJ2kDecompositions(bytes) : decoder.getNumDecompositions();
    const level = chooseLevel(description.rows, description.columns, decompositions, request.minShortSide);
    if (level > 0) decoder.decodeSubResolution(level, 0);
    else decoder.decode();
    const info = decoder.getFrameInfo();
    return {
      rows: sideAtLevel(info.height, level),
      columns: sideAtLevel(info.width, level),
      samples: copySamples(decoder.getDecodedBuffer(), info.bitsPerSample, info.isSigned),
      planar: info.componentCount > 1,
      convertedToRgb: false,
      level,
    };
  } finally {
    decoder.delete();
  }
}

export async function decodeJpeg2000(request: FrameRequest): Promise<DecodedFrame> {
  checkAgainstAttributes(readJ2kHeader(request.bytes), request.description);
  return withModule(openJpeg, (module) => decodeWith(module, request));
}

export async function decodeHtj2k(request: FrameRequest): Promise<DecodedFrame> {
  checkAgainstAttributes(readJ2kHeader(request.bytes), request.description);
  return withModule(openJph, (module) => decodeWith(module, request));
}
