/** Uncompressed pixel data: little or big endian words of 8, 16 or 32 bits. */
import type { DecodedFrame, FrameRequest, Samples } from './types.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function decodeNative({ bytes, description, bigEndian }: FrameRequest): DecodedFrame {
  const count = description.rows * description.columns * description.samplesPerPixel;
  let samples: Samples;
  if (description.bitsAllocated === 8) {
    samples = bytes.slice(0, count);
  } else {
    // Copy to an aligned buffer; DataView reads honour the byte order whatever the host's.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const littleEndian = !bigEndian;
    if (description.bitsAllocated === 16 && littleEndian && HOST_LITTLE_ENDIAN) {
      // Same byte order as the host: the file's own bytes when they sit on a 2-byte boundary (they
      // do in a file read whole: DICOM values have even lengths), which saves a copy of the image
      // (the samples only get read); else one copy, no per-sample reads.
      samples =
        bytes.byteOffset % 2 === 0
          ? new Uint16Array(bytes.buffer, bytes.byteOffset, count)
          : new Uint16Array(bytes.slice(0, count * 2).buffer);
    } else if (description.bitsAllocated === 16) {
      const words = new Uint16Array(count);
      for (let i = 0; i < count; i++) words[i] = view.getUint16(i * 2, littleEndian);
      samples = words;
    } else {
      const words = new Uint32Array(count);
      for (let i = 0; i < count; i++) words[i] = view.getUint32(i * 4, littleEndian);
      samples = words;
    }
  }
  return {
    rows: description.rows,
    columns: description.columns,
    samples,
    planar: description.planarConfiguration === 1,
    convertedToRgb: false,
    level: 0,
  };
}
