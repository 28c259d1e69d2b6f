/**
 * PNG in (8 and 16 bit, grey, grey+alpha, RGB, RGBA, palette) and 8-bit grey PNG out, with
 * fast-png; 8-bit RGBA PNG out (heatmap overlays) with Node's zlib.
 */
import { constants, crc32, deflateSync, inflateSync } from 'node:zlib';
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import { TriageError } from '../../errors/index.js';
import { checkImageSize } from '../budget.js';
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

/** Adam7's passes: first column and row, column and row steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The inflated size of a PNG's image data: filtered scanlines, a filter byte each. */
export function pngDataBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const scanlines = (w: number, h: number) => (w === 0 || h === 0 ? 0 : h * (1 + Math.ceil((w * bitsPerPixel) / 8)));
  if (!interlaced) return scanlines(width, height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) total += scanlines(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy));
  return total;
}

/** Channels per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Checks a PNG's header and the size of its image data before anything decodes it: the size it
 * declares must fit the pixel ceiling (TOO_LARGE), and its compressed data must not inflate to
 * more than that size needs (a small file whose data inflates without end is MALFORMED). Inflating
 * stops at the declared size, so the check costs at most what decoding would.
 */
export function checkPng(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Signature (8 bytes), then the IHDR chunk: length, "IHDR", width, height, depth, colour type, ..., interlace.
  if (bytes.length < 33 || view.getUint32(12) !== 0x49484452) {
    throw new TriageError(bytes.length < 33 ? 'TRUNCATED' : 'MALFORMED', 'The PNG file has no image header (IHDR).');
  }
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const channels = CHANNELS[bytes[25]];
  if (width === 0 || height === 0 || channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) {
    throw new TriageError(
      'MALFORMED',
      `The PNG header is impossible (${width} x ${height}, depth ${depth}, colour type ${bytes[25]}).`,
    );
  }
  checkImageSize(width, height, 'The PNG');
  const expected = pngDataBytes(width, height, channels * depth, bytes[28] === 1);
  const chunks: Uint8Array[] = [];
  for (let offset = 8; offset + 12 <= bytes.length;) {
    const length = view.getUint32(offset);
    const type = view.getUint32(offset + 4);
    if (offset + 12 + length > bytes.length) break; // truncated: the decoder says so
    if (type === 0x49444154) chunks.push(bytes.subarray(offset + 8, offset + 8 + length)); // IDAT
    if (type === 0x49454e44) break; // IEND
    offset += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(chunks), { maxOutputLength: expected, finishFlush: constants.Z_SYNC_FLUSH });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TriageError(
        'MALFORMED',
        `The PNG's image data inflates beyond the ${width} x ${height} pixels it declares.`,
      );
    }
    // Corrupt or truncated data: the decoder reports it with its own words.
  }
}

export function decodePng(bytes: Uint8Array): RasterImage {
  checkPng(bytes);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const truncated = /end of|out of range|offset|bounds|unexpected end/i.test(message);
    throw new TriageError(truncated ? 'TRUNCATED' : 'MALFORMED', `The PNG file cannot be decoded (${message}).`);
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
