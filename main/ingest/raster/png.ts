/**
 * PNG in (8 and 16 bit, grey, grey+alpha, RGB, RGBA, palette) and 8-bit grey PNG out, with
 * fast-png; 8-bit RGBA PNG out (heatmap overlays) with Node's zlib.
 */
import { crc32, deflateSync } from 'node:zlib';
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import { TriageError } from '../../errors/index.js';
import { LUMA } from '../pixels/modality.js';

export interface RasterImage {
  width: number;
  height: number;
  /** Grey levels (luminance for colour), one per pixel. */
  values: Float32Array;
  bitDepth: number;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

/** Reduces interleaved samples to grey: alpha dropped, colour to Rec. 601 luminance. */
export function toGrey(data: ArrayLike<number>, width: number, height: number, channels: number): Float32Array {
  if (channels === 1) return Float32Array.from(data);
  const values = new Float32Array(width * height);
  const colour = channels >= 3;
  for (let i = 0, s = 0; i < values.length; i++, s += channels) {
    values[i] = colour ? LUMA.r * data[s] + LUMA.g * data[s + 1] + LUMA.b * data[s + 2] : data[s];
  }
  return values;
}

export function decodePng(bytes: Uint8Array): RasterImage {
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const truncated = /end of|out of range|offset|bounds|unexpected end/i.test(message);
    throw new TriageError(truncated ? 'TRUNCATED' : 'MALFORMED', `The PNG file cannot be decoded (${message}).`);
  }
  if (png.width * png.height > 100_000_000) {
    throw new TriageError('TOO_LARGE', `The PNG is ${png.width} x ${png.height} pixels, larger than any radiograph.`);
  }
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = png.transparency ? 4 : 3;
    return { width: png.width, height: png.height, values: toGrey(rgb, png.width, png.height, channels), bitDepth: 8 };
  }
  const depth = png.depth;
  return {
    width: png.width,
    height: png.height,
    values: toGrey(png.data, png.width, png.height, png.channels),
    bitDepth: depth,
  };
}

/** An 8-bit greyscale PNG. */
export function encodeGreyPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  return encode({ width, height, data: pixels, depth: 8, channels: 1 });
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  // PNG's CRC-32 (ISO 3309) over the type and the data: zlib's own (Node 20.15 and later).
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * An 8-bit RGBA PNG. Compressed by Node's zlib rather than a JavaScript deflate: an overlay is
 * millions of pixels (a 2,000 x 2,500 radiograph: 20 MB of RGBA), and native deflate is about ten
 * times faster on it.
 */
export function encodeRgbaPng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 4;
  // Each scanline starts with its filter type: 0, none (the overlay is flat runs; zlib takes them).
  const scanlines = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) scanlines.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, adaptive filtering, no interlace
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}
