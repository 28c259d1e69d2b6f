/** JPEG-LS lossless and near-lossless with CharLS's WASM build. */
import factory from '@cornerstonejs/codec-charls/decodewasmjs';
import { checkAgainstAttributes, readJpegHeader } from './codestream.js';
import type { DecodedFrame, FrameRequest } from './types.js';
import { copySamples, lazyModule, quietEmscripten, withModule } from './wasm-module.js';

interface JpegLSDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  getInterleaveMode(): number;
  delete(): void;
}
interface CharLS {
  JpegLSDecoder: new () => JpegLSDecoder;
}

const codec = lazyModule(() => (factory as unknown as (options: object) => Promise<CharLS>)(quietEmscripten()));

export async function decodeJpegLs({ bytes, description }: FrameRequest): Promise<DecodedFrame> {
  checkAgainstAttributes(readJpegHeader(bytes), description);
  return withModule(codec, (module) => {
    const decoder = new module.JpegLSDecoder();
    try {
      decoder.getEncodedBuffer(bytes.length).set(bytes);
      decoder.decode();
      const info = decoder.getFrameInfo();
      return {
        rows: info.height,
        columns: info.width,
        samples: copySamples(decoder.getDecodedBuffer(), info.bitsPerSample, false),
        // Interleave mode 0 (none) leaves colour planes one after the other.
        planar: info.componentCount > 1 && decoder.getInterleaveMode() === 0,
        convertedToRgb: false,
        level: 0,
      };
    } finally {
      decoder.delete();
    }
  });
}
