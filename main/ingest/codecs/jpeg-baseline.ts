/** JPEG baseline 8-bit (process 1) with libjpeg-turbo's WASM build. */
import factory from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs';
import { checkAgainstAttributes, checkJpegBudget, readJpegHeader } from './codestream.js';
import type { DecodedFrame, FrameRequest } from './types.js';
import { copySamples, lazyModule, quietEmscripten, withModule } from './wasm-module.js';

interface JpegDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
  delete(): void;
}
interface LibJpegTurbo {
  JPEGDecoder: new () => JpegDecoder;
}

const codec = lazyModule(() => (factory as unknown as (options: object) => Promise<LibJpegTurbo>)(quietEmscripten()));

/** libjpeg-turbo decodes 8-bit JPEG from a buffer; also used for plain .jpg files. */
export async function decodeJpeg8(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; components: number; samples: Uint8Array }> {
  return withModule(codec, (module) => {
    const decoder = new module.JPEGDecoder();
    try {
      decoder.getEncodedBuffer(bytes.length).set(bytes);
      decoder.decode();
      const info = decoder.getFrameInfo();
      const samples = copySamples(decoder.getDecodedBuffer(), 8, false) as Uint8Array;
      return { width: info.width, height: info.height, components: info.componentCount, samples };
    } finally {
      decoder.delete();
    }
  });
}

export async function decodeJpegBaseline({ bytes, description }: FrameRequest): Promise<DecodedFrame> {
  const header = readJpegHeader(bytes);
  checkAgainstAttributes(header, description);
  checkJpegBudget(bytes, header);
  const decoded = await decodeJpeg8(bytes);
  return {
    rows: decoded.height,
    columns: decoded.width,
    samples: decoded.samples,
    planar: false,
    // libjpeg converts YCbCr to RGB for 3-component images, whatever the DICOM header says.
    convertedToRgb: decoded.components === 3,
    level: 0,
  };
}
