/**
 * Hostile DICOM files, built byte by byte: the red team's bombs (decompression, allocation and
 * structure bombs) at whatever scale a test asks for. Explicit VR little endian unless a builder
 * says otherwise; a valid image module around the bomb, so nothing but the bomb is wrong.
 */
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const UNDEFINED = 0xffffffff;

export const SYNTAX = {
  explicitLE: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.90',
} as const;

function even(bytes: Uint8Array, pad: number): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = pad;
  return out;
}

/** One explicit VR little endian element; `length` overrides the value's (UNDEFINED for sequences). */
export function element(tag: number, vr: string, value: Uint8Array | string | number, length?: number): Buffer {
  let bytes: Uint8Array;
  if (typeof value === 'number') {
    bytes = vr === 'UL' ? Buffer.from(new Uint32Array([value]).buffer) : Buffer.from(new Uint16Array([value]).buffer);
  } else if (typeof value === 'string') {
    bytes = even(Buffer.from(value, 'latin1'), vr === 'UI' ? 0 : 0x20);
  } else bytes = value;
  const long = LONG_VRS.has(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length ?? bytes.length, 8);
  else header.writeUInt16LE(length ?? bytes.length, 6);
  return Buffer.concat([header, bytes]);
}

/** An item or delimiter tag (FFFE,xxxx) with its 32-bit length. */
export function itemTag(elementNumber: number, length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt16LE(0xfffe, 0);
  bytes.writeUInt16LE(elementNumber, 2);
  bytes.writeUInt32LE(length, 4);
  return bytes;
}
export const ITEM = 0xe000;
export const ITEM_END = 0xe00d;
export const SEQUENCE_END = 0xe0dd;

/** Preamble, "DICM" and the file meta group for a transfer syntax. */
export function fileMeta(transferSyntax: string): Buffer {
  const body = Buffer.concat([
    element(0x00020001, 'OB', new Uint8Array([0, 1])),
    element(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.1.1'),
    element(0x00020003, 'UI', '2.25.1'),
    element(0x00020010, 'UI', transferSyntax),
    element(0x00020012, 'UI', '2.25.2'),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(0x00020000, 'UL', body.length), body]);
}

/** The attributes of a DX image before the Pixel Data: rows x columns, 16-bit grey. */
export function imageAttributes(rows: number, columns: number, extra: Buffer[] = []): Buffer {
  return Buffer.concat([
    element(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.1.1'),
    element(0x00080018, 'UI', '2.25.3'),
    element(0x00080060, 'CS', 'DX'),
    ...extra,
    element(0x00180015, 'CS', 'CHEST'),
    element(0x00185101, 'CS', 'PA'),
    element(0x00280002, 'US', 1),
    element(0x00280004, 'CS', 'MONOCHROME2'),
    element(0x00280010, 'US', rows),
    element(0x00280011, 'US', columns),
    element(0x00280100, 'US', 16),
    element(0x00280101, 'US', 12),
    element(0x00280102, 'US', 11),
    element(0x00280103, 'US', 0),
  ]);
}

/** Native 16-bit Pixel Data of `rows` x `columns` zeros (a valid frame). */
export function nativePixels(rows: number, columns: number): Buffer {
  return element(0x7fe00010, 'OW', new Uint8Array(rows * columns * 2));
}

/** Encapsulated Pixel Data of one frame in one fragment (padded to even length), empty offset table. */
export function encapsulatedPixels(frame: Uint8Array): Buffer {
  const fragment = frame.length % 2 === 0 ? frame : Buffer.concat([frame, Buffer.alloc(1)]);
  const value = Buffer.concat([itemTag(ITEM, 0), itemTag(ITEM, fragment.length), fragment, itemTag(SEQUENCE_END, 0)]);
  return element(0x7fe00010, 'OB', value, UNDEFINED);
}

/** An image of one compressed frame: grey (MONOCHROME2) or RGB by pixel, unsigned, `bitsStored` bits. */
export function encapsulatedImage(
  transferSyntax: string,
  image: { rows: number; columns: number; samplesPerPixel: 1 | 3; bitsStored: number },
  frame: Uint8Array,
): Buffer {
  const colour = image.samplesPerPixel === 3;
  return Buffer.concat([
    fileMeta(transferSyntax),
    element(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    element(0x00080018, 'UI', '2.25.4'),
    element(0x00080060, 'CS', 'OT'),
    element(0x00280002, 'US', image.samplesPerPixel),
    element(0x00280004, 'CS', colour ? 'RGB' : 'MONOCHROME2'),
    ...(colour ? [element(0x00280006, 'US', 0)] : []),
    element(0x00280010, 'US', image.rows),
    element(0x00280011, 'US', image.columns),
    element(0x00280100, 'US', image.bitsStored > 8 ? 16 : 8),
    element(0x00280101, 'US', image.bitsStored),
    element(0x00280102, 'US', image.bitsStored - 1),
    element(0x00280103, 'US', 0),
    encapsulatedPixels(frame),
  ]);
}

/** A sequence of `count` empty items (undefined lengths), nested `depth` levels deep in the first. */
export function sequence(tag: number, count: number, depth = 0): Buffer {
  const inner = depth > 0 ? sequence(tag, 1, depth - 1) : Buffer.alloc(0);
  const first = Buffer.concat([itemTag(ITEM, UNDEFINED), inner, itemTag(ITEM_END, 0)]);
  const empty = itemTag(ITEM, 0);
  const items = count > 1 ? Buffer.alloc((count - 1) * 8) : Buffer.alloc(0);
  for (let i = 0; i < count - 1; i++) empty.copy(items, i * 8);
  return Buffer.concat([element(tag, 'SQ', new Uint8Array(0), UNDEFINED), first, items, itemTag(SEQUENCE_END, 0)]);
}

/** A Part 10 file, its data set deflated (Deflated Explicit VR Little Endian). */
export function deflatedFile(dataSet: Buffer): Buffer {
  return Buffer.concat([fileMeta(SYNTAX.deflated), deflateRawSync(dataSet)]);
}

/**
 * Writes a deflated Part 10 file whose data set is `head`, then `repeat` copies of `unit`, then
 * `tail`, deflated as a stream: a data set of gigabytes becomes a file of a megabyte without the
 * test holding the gigabytes.
 */
export async function writeDeflatedBomb(
  path: string,
  head: Buffer,
  unit: Buffer,
  repeat: number,
  tail: Buffer,
): Promise<void> {
  const out = createWriteStream(path);
  out.write(fileMeta(SYNTAX.deflated));
  const deflate = createDeflateRaw({ level: 9 });
  deflate.pipe(out);
  deflate.write(head);
  const block = Buffer.alloc(unit.length * Math.min(repeat, 65536));
  for (let i = 0; i < block.length / unit.length; i++) unit.copy(block, i * unit.length);
  for (let left = repeat; left > 0;) {
    const copies = Math.min(left, block.length / unit.length);
    if (!deflate.write(block.subarray(0, copies * unit.length))) await once(deflate, 'drain');
    left -= copies;
  }
  deflate.end(tail);
  await once(out, 'finish');
}

/** One PNG chunk: length, type, data and its CRC-32 (over type and data, as PNG's readers check it). */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

export interface PngLayout {
  /** 0 grey (default), 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colourType?: number;
  /** Bits per sample (default 8). */
  depth?: number;
  /** Chunks between the header and the image data, as [type, data]. */
  before?: Array<[string, Uint8Array]>;
}

/**
 * A PNG that declares `width` x `height` pixels (8-bit grey unless `layout` says otherwise), with
 * `idat` as its compressed image data and valid CRCs: what the reader refuses, it refuses for
 * what the test built, not for a checksum.
 */
export function pngWithHeader(width: number, height: number, idat: Uint8Array, layout: PngLayout = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = layout.depth ?? 8;
  ihdr[9] = layout.colourType ?? 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...(layout.before ?? []).map(([type, data]) => pngChunk(type, data)),
    pngChunk('IDAT', idat),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}
