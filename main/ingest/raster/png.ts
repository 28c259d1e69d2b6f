/**
 * PNG in (8 and 16 bit, grey, grey+alpha, RGB, RGBA, palette) and 8-bit grey PNG out, with
 * fast-png; 8-bit RGBA PNG out (heatmap overlays) with Node's zlib.
 */
import { crc32, createInflate, deflateSync, inflateSync } from 'node:zlib';
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import { TriageError } from '../../errors/index.js';
import { checkImageSize, MAX_DECODED_BYTES, MAX_PNG_CHUNKS } from '../budget.js';
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

/** What a PNG's chunks say, checked, with only the chunks a radiograph needs kept. */
interface InspectedPng {
  width: number;
  height: number;
  /** The inflated size of the image data the header implies. */
  dataBytes: number;
  /** The IDAT chunks' compressed data, in order. */
  idat: Uint8Array[];
  /** The signature and the chunks before the image data a decoder needs (IHDR, PLTE, tRNS), verbatim. */
  head: Uint8Array[];
}

const IHDR = 0x49484452;
const PLTE = 0x504c5445;
const TRNS = 0x74524e53;
const IDAT = 0x49444154;
const IEND = 0x49454e44;

/**
 * Reads a PNG's chunks before anything decodes it: exactly one IHDR, first; the size it declares
 * within the pixel ceiling and its decoded samples within MAX_DECODED_BYTES (TOO_LARGE); every
 * ancillary chunk left out of what the decoder sees (a compressed colour profile or text chunk
 * would be inflated without a limit, and nothing of them is needed to read the pixels).
 */
function inspectPng(bytes: Uint8Array): InspectedPng {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || view.getUint32(12) !== IHDR || view.getUint32(8) !== 13) {
    throw new TriageError(
      bytes.length < 33 ? 'TRUNCATED' : 'MALFORMED',
      'The PNG file has no image header (IHDR) first.',
    );
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
  // What the decoder holds: the samples (palette images expand to RGB or RGBA, 8 bits).
  const sampleBytes = bytes[25] === 3 ? 4 : channels * (depth === 16 ? 2 : 1);
  if (width * height * sampleBytes > MAX_DECODED_BYTES) {
    throw new TriageError(
      'TOO_LARGE',
      `The PNG's ${width} x ${height} pixels of ${sampleBytes} bytes each decode to more than ${MAX_DECODED_BYTES / 1024 / 1024} MiB; a radiograph needs far less.`,
    );
  }
  const head: Uint8Array[] = [bytes.subarray(0, 8)];
  const idat: Uint8Array[] = [];
  let offset = 8;
  let chunks = 0;
  while (offset + 12 <= bytes.length) {
    if (++chunks > MAX_PNG_CHUNKS) {
      throw new TriageError('TOO_LARGE', `The PNG file has more than ${MAX_PNG_CHUNKS.toLocaleString('en')} chunks.`);
    }
    const length = view.getUint32(offset);
    const type = view.getUint32(offset + 4);
    const end = offset + 12 + length;
    if (end > bytes.length) break; // a truncated chunk: the image data comes up short
    if (type === IHDR && offset !== 8)
      throw new TriageError('MALFORMED', 'The PNG file has a second image header (IHDR).');
    // A palette of 256 RGB entries at most (the decoder builds an object per entry).
    if (type === PLTE && (length > 768 || length % 3 !== 0))
      throw new TriageError('MALFORMED', `The PNG palette is ${length} bytes; one holds at most 256 colours of 3.`);
    // Critical chunks (an upper-case first letter) are kept; of the ancillary ones, transparency.
    const critical = (bytes[offset + 4] & 0x20) === 0;
    if (critical && ![IHDR, PLTE, IDAT, IEND].includes(type)) {
      throw new TriageError('MALFORMED', 'The PNG file has a critical chunk this reader does not know.');
    }
    if (type === IDAT) idat.push(bytes.subarray(offset + 8, offset + 8 + length));
    else if (type !== IEND && (critical || type === TRNS)) head.push(bytes.subarray(offset, end));
    if (type === IEND) break;
    offset = end;
  }
  return { width, height, dataBytes: pngDataBytes(width, height, channels * depth, bytes[28] === 1), idat, head };
}

const beyondDeclared = (png: InspectedPng) =>
  new TriageError(
    'MALFORMED',
    `The PNG's image data inflates beyond the ${png.width} x ${png.height} pixels it declares.`,
  );

/** zlib's failure on a PNG's image data, as a coded error. */
function corrupt(error: NodeJS.ErrnoException): TriageError {
  return error.code === 'Z_BUF_ERROR'
    ? new TriageError('TRUNCATED', 'The PNG file ends before its image data does.')
    : new TriageError('MALFORMED', `The PNG's image data is corrupt (${error.message}).`);
}

/**
 * Node's zlib inflates the image data, as a stream, up to the size the header declares
 * (MALFORMED beyond it); any error of the stream refuses the file. Exactly that many bytes, or
 * TRUNCATED.
 */
async function inflatePngData(png: InspectedPng): Promise<Buffer> {
  const inflated = await new Promise<Buffer>((resolve, reject) => {
    const inflater = createInflate({ chunkSize: 256 * 1024 });
    const chunks: Buffer[] = [];
    let total = 0;
    inflater.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > png.dataBytes) {
        inflater.destroy();
        reject(beyondDeclared(png));
        return;
      }
      chunks.push(chunk);
    });
    inflater.on('error', (error) => reject(corrupt(error)));
    inflater.on('end', () => resolve(Buffer.concat(chunks, total)));
    for (const chunk of png.idat) inflater.write(chunk);
    inflater.end();
  });
  return complete(png, inflated);
}

function complete(png: InspectedPng, inflated: Buffer): Buffer {
  if (inflated.length < png.dataBytes) {
    throw new TriageError(
      'TRUNCATED',
      `The PNG's image data holds fewer pixels than its ${png.width} x ${png.height}.`,
    );
  }
  return inflated;
}

/**
 * fast-png on the checked chunks, its size checked again against the header. Its image data is
 * what Node's zlib inflated, stored again without compression: only one inflater ever reads the
 * file's own compressed bytes, so no difference between two inflaters (fast-png's reads a stored
 * block whose length check zlib refuses) can let the decoder inflate more than was counted.
 */
function decodeInspected(png: InspectedPng, inflated: Buffer): RasterImage {
  const rebuilt = Buffer.concat([
    ...png.head,
    chunk('IDAT', deflateSync(inflated, { level: 0 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
  let decoded: ReturnType<typeof decode>;
  try {
    decoded = decode(rebuilt);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TriageError('MALFORMED', `The PNG file cannot be decoded (${message}).`);
  }
  if (decoded.width !== png.width || decoded.height !== png.height) {
    throw new TriageError('MALFORMED', 'The PNG decoded to another size than its header declares.');
  }
  if (decoded.palette) {
    const rgb = convertIndexedToRgb(decoded);
    const channels = decoded.transparency ? 4 : 3;
    return {
      width: decoded.width,
      height: decoded.height,
      values: toGrey(rgb, decoded.width, decoded.height, channels),
      bitDepth: 8,
    };
  }
  return {
    width: decoded.width,
    height: decoded.height,
    values: toGrey(decoded.data, decoded.width, decoded.height, decoded.channels),
    bitDepth: decoded.depth,
  };
}

/**
 * A PNG file to grey levels, within the ingest's budget: its chunks checked and its image data
 * inflated by Node's zlib as a stream, counted against its declared size, before the decoder runs.
 */
export async function readPng(bytes: Uint8Array): Promise<RasterImage> {
  const png = inspectPng(bytes);
  return decodeInspected(png, await inflatePngData(png));
}

/** The same, synchronously, for the build scripts and tests that read the generator's own PNGs. */
export function decodePng(bytes: Uint8Array): RasterImage {
  const png = inspectPng(bytes);
  let inflated: Buffer;
  try {
    inflated = inflateSync(Buffer.concat(png.idat), { maxOutputLength: Math.max(1, png.dataBytes) });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    throw failure.code === 'ERR_BUFFER_TOO_LARGE' ? beyondDeclared(png) : corrupt(failure);
  }
  return decodeInspected(png, complete(png, inflated));
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
