/** PNG in (8 and 16 bit, grey, grey+alpha, RGB, RGBA, palette) and 8-bit grey PNG out, with fast-png. */
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
  return { width: png.width, height: png.height, values: toGrey(png.data, png.width, png.height, png.channels), bitDepth: depth };
}

/** An 8-bit greyscale PNG. */
export function encodeGreyPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  return encode({ width, height, data: pixels, depth: 8, channels: 1 });
}
