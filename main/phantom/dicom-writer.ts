/**
 * A small, general DICOM data-set serializer: Explicit VR Little Endian, Part 10 files with a
 * correct File Meta Information group. Elements carry their VR; values are padded to even length
 * as PS3.5 requires (UI with NUL, other text with a space, binary with a zero byte); elements are
 * written in ascending tag order; sequences are written with defined lengths.
 *
 * Values are checked against their VR's length and character rules, so a bug in a caller fails
 * here loudly instead of producing a file other readers reject.
 */

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** Text VRs (a string, or several joined with a backslash). */
export type TextVR =
  'AE' | 'AS' | 'CS' | 'DA' | 'DS' | 'DT' | 'IS' | 'LO' | 'LT' | 'PN' | 'SH' | 'ST' | 'TM' | 'UC' | 'UI' | 'UR' | 'UT';
/** Binary numeric VRs (one number or several). */
export type NumberVR = 'US' | 'SS' | 'UL' | 'SL' | 'FL' | 'FD' | 'AT';
/** Binary blob VRs. */
export type BytesVR = 'OB' | 'OW' | 'UN';
export type VR = TextVR | NumberVR | BytesVR | 'SQ';

/** One element. `tag` is (group << 16) | element, e.g. 0x00100010 for Patient's Name. */
export type DicomElement =
  | { tag: number; vr: TextVR; value: string | readonly string[] }
  | { tag: number; vr: NumberVR; value: number | readonly number[] }
  | { tag: number; vr: BytesVR; value: Uint8Array | Uint16Array }
  | { tag: number; vr: 'SQ'; value: readonly (readonly DicomElement[])[] };

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** VRs whose header has 2 reserved bytes and a 32-bit length (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set<VR>(['OB', 'OW', 'UN', 'SQ', 'UC', 'UR', 'UT']);

/** Maximum length in characters of one value (PS3.5 Table 6.2-1); null: limited only by the 32-bit length. */
const MAX_VALUE_LENGTH: Record<TextVR, number | null> = {
  AE: 16,
  AS: 4,
  CS: 16,
  DA: 8,
  DS: 16,
  DT: 26,
  IS: 12,
  LO: 64,
  LT: 10240,
  PN: 64 * 3 + 2,
  SH: 16,
  ST: 1024,
  TM: 14,
  UC: null,
  UI: 64,
  UR: null,
  UT: null,
};

/** VRs that hold exactly one value (a backslash is an ordinary character there). */
const SINGLE_VALUED = new Set<TextVR>(['LT', 'ST', 'UR', 'UT']);

const PATTERN: Partial<Record<TextVR, RegExp>> = {
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9_ ]*$/,
  DA: /^\d{8}$/,
  DS: /^ *[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)? *$/,
  IS: /^ *[-+]?\d+ *$/,
  TM: /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/,
  UI: /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/,
};

export class DicomWriteError extends Error {
  constructor(tag: number, message: string) {
    super(`(${tagText(tag)}): ${message}`);
    this.name = 'DicomWriteError';
  }
}

export function tagText(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 4)},${hex.slice(4)}`;
}

/** Growable little-endian byte buffer. */
class ByteSink {
  private bytes: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.bytes.buffer);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  setU32(offset: number, value: number): void {
    this.view.setUint32(offset, value, true);
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written (the buffer itself when it is exactly full, else a copy). */
  result(): Uint8Array {
    return this.length === this.bytes.length ? this.bytes : this.bytes.slice(0, this.length);
  }
}

function asciiBytes(tag: number, text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7e || (code < 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x0c && code !== 0x1b)) {
      throw new DicomWriteError(tag, `character code ${code} is outside the default repertoire (ISO-IR 6)`);
    }
    bytes[i] = code;
  }
  return bytes;
}

function checkText(tag: number, vr: TextVR, values: readonly string[]): void {
  if (SINGLE_VALUED.has(vr) && values.length > 1) throw new DicomWriteError(tag, `${vr} holds a single value`);
  const limit = MAX_VALUE_LENGTH[vr];
  const pattern = PATTERN[vr];
  for (const value of values) {
    if (!SINGLE_VALUED.has(vr) && value.includes('\\')) {
      throw new DicomWriteError(tag, `a backslash separates values; pass an array instead of "${value}"`);
    }
    if (limit !== null && value.length > limit) {
      throw new DicomWriteError(
        tag,
        `${vr} value "${value}" is ${value.length} characters; at most ${limit} are allowed`,
      );
    }
    if (pattern && value !== '' && !pattern.test(value))
      throw new DicomWriteError(tag, `"${value}" is not a valid ${vr}`);
    if (vr === 'PN' && value.split('=').some((group) => group.length > 64)) {
      throw new DicomWriteError(tag, 'a PN component group is longer than 64 characters');
    }
  }
}

function textValue(tag: number, vr: TextVR, value: string | readonly string[]): Uint8Array {
  const values = typeof value === 'string' ? [value] : value;
  checkText(tag, vr, values);
  const text = values.join('\\');
  const bytes = asciiBytes(tag, text);
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  padded[bytes.length] = vr === 'UI' ? 0 : 0x20;
  return padded;
}

const NUMBER_WIDTH: Record<NumberVR, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4 };
const NUMBER_RANGE: Partial<Record<NumberVR, [number, number]>> = {
  US: [0, 0xffff],
  SS: [-0x8000, 0x7fff],
  UL: [0, 0xffffffff],
  SL: [-0x80000000, 0x7fffffff],
  AT: [0, 0xffffffff],
};

function numberValue(tag: number, vr: NumberVR, value: number | readonly number[]): Uint8Array {
  const values = typeof value === 'number' ? [value] : value;
  const width = NUMBER_WIDTH[vr];
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  values.forEach((n, i) => {
    const range = NUMBER_RANGE[vr];
    if (range && (!Number.isInteger(n) || n < range[0] || n > range[1])) {
      throw new DicomWriteError(tag, `${n} does not fit ${vr}`);
    }
    if (!range && !Number.isFinite(n)) throw new DicomWriteError(tag, `${n} is not a finite ${vr}`);
    const at = i * width;
    switch (vr) {
      case 'US':
        view.setUint16(at, n, true);
        break;
      case 'SS':
        view.setInt16(at, n, true);
        break;
      case 'UL':
        view.setUint32(at, n, true);
        break;
      case 'SL':
        view.setInt32(at, n, true);
        break;
      case 'FL':
        view.setFloat32(at, n, true);
        break;
      case 'FD':
        view.setFloat64(at, n, true);
        break;
      case 'AT':
        view.setUint16(at, n >>> 16, true);
        view.setUint16(at + 2, n & 0xffff, true);
        break;
    }
  });
  return bytes;
}

/** Little-endian bytes of a binary value, padded to even length with a zero byte. */
function bytesValue(value: Uint8Array | Uint16Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint16Array) {
    bytes = new Uint8Array(value.length * 2);
    if (LITTLE_ENDIAN_HOST) {
      bytes.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    } else {
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < value.length; i++) view.setUint16(i * 2, value[i], true);
    }
  } else {
    bytes = value;
  }
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  return padded;
}

function writeHeader(sink: ByteSink, tag: number, vr: VR, length: number): void {
  sink.u16(tag >>> 16);
  sink.u16(tag & 0xffff);
  sink.u8(vr.charCodeAt(0));
  sink.u8(vr.charCodeAt(1));
  if (LONG_VRS.has(vr)) {
    sink.u16(0);
    sink.u32(length);
  } else {
    if (length > 0xffff)
      throw new DicomWriteError(tag, `a ${vr} value of ${length} bytes does not fit a 16-bit length`);
    sink.u16(length);
  }
}

function sortedElements(elements: readonly DicomElement[]): DicomElement[] {
  const sorted = [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].tag === sorted[i - 1].tag) throw new DicomWriteError(sorted[i].tag, 'the tag appears twice');
  }
  return sorted;
}

function writeElements(sink: ByteSink, elements: readonly DicomElement[]): void {
  for (const element of sortedElements(elements)) {
    const { tag } = element;
    if (tag >>> 16 === 0xfffe) throw new DicomWriteError(tag, 'item delimitation tags are written by the serializer');
    switch (element.vr) {
      case 'SQ': {
        writeHeader(sink, tag, 'SQ', 0);
        const lengthAt = sink.length - 4;
        const start = sink.length;
        for (const item of element.value) {
          sink.u16(0xfffe);
          sink.u16(0xe000);
          sink.u32(0);
          const itemLengthAt = sink.length - 4;
          const itemStart = sink.length;
          writeElements(sink, item);
          sink.setU32(itemLengthAt, sink.length - itemStart);
        }
        sink.setU32(lengthAt, sink.length - start);
        break;
      }
      case 'US':
      case 'SS':
      case 'UL':
      case 'SL':
      case 'FL':
      case 'FD':
      case 'AT': {
        const bytes = numberValue(tag, element.vr, element.value);
        writeHeader(sink, tag, element.vr, bytes.length);
        sink.raw(bytes);
        break;
      }
      case 'OB':
      case 'OW':
      case 'UN': {
        if (element.vr === 'OW' && !(element.value instanceof Uint16Array) && element.value.length % 2 !== 0) {
          throw new DicomWriteError(tag, 'OW needs an even number of bytes');
        }
        const bytes = bytesValue(element.value);
        writeHeader(sink, tag, element.vr, bytes.length);
        sink.raw(bytes);
        break;
      }
      default: {
        const bytes = textValue(tag, element.vr, element.value);
        writeHeader(sink, tag, element.vr, bytes.length);
        sink.raw(bytes);
      }
    }
  }
}

/** An upper estimate of an encoded data set's size, so the buffer rarely grows. */
function estimate(elements: readonly DicomElement[]): number {
  let total = 0;
  for (const element of elements) {
    total += 16;
    const value = element.value;
    if (element.vr === 'SQ')
      total += (value as readonly (readonly DicomElement[])[]).reduce((sum, item) => sum + 8 + estimate(item), 0);
    else if (typeof value === 'string') total += value.length + 1;
    else if (typeof value === 'number') total += 8;
    else if (value instanceof Uint8Array || value instanceof Uint16Array) total += value.byteLength + 1;
    else
      total += (value as readonly (string | number)[]).reduce<number>(
        (sum, v) => sum + (typeof v === 'string' ? v.length + 1 : 8),
        0,
      );
  }
  return total;
}

/** A data set in Explicit VR Little Endian, elements sorted by tag. */
export function encodeDataSet(elements: readonly DicomElement[]): Uint8Array {
  const sink = new ByteSink(estimate(elements));
  writeElements(sink, elements);
  return sink.result();
}

export interface FileMetaOptions {
  mediaStorageSOPClassUID: string;
  mediaStorageSOPInstanceUID: string;
  implementationClassUID: string;
  /** At most 16 characters. */
  implementationVersionName?: string;
  sourceApplicationEntityTitle?: string;
}

/** The File Meta Information group (0002), with its group length, always Explicit VR Little Endian. */
export function fileMetaElements(options: FileMetaOptions): DicomElement[] {
  const elements: DicomElement[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: options.mediaStorageSOPClassUID },
    { tag: 0x00020003, vr: 'UI', value: options.mediaStorageSOPInstanceUID },
    { tag: 0x00020010, vr: 'UI', value: EXPLICIT_VR_LITTLE_ENDIAN },
    { tag: 0x00020012, vr: 'UI', value: options.implementationClassUID },
  ];
  if (options.implementationVersionName)
    elements.push({ tag: 0x00020013, vr: 'SH', value: options.implementationVersionName });
  if (options.sourceApplicationEntityTitle)
    elements.push({ tag: 0x00020016, vr: 'AE', value: options.sourceApplicationEntityTitle });
  const body = encodeDataSet(elements);
  return [{ tag: 0x00020000, vr: 'UL', value: body.length }, ...elements];
}

/**
 * A Part 10 file: 128-byte preamble, "DICM", the File Meta group, then the data set in Explicit VR
 * Little Endian. The data set must not contain group 0002 elements; the meta group is derived from
 * `meta`.
 */
export function encodePart10(dataSet: readonly DicomElement[], meta: FileMetaOptions): Uint8Array {
  const stray = dataSet.find((element) => element.tag >>> 16 === 0x0002);
  if (stray)
    throw new DicomWriteError(stray.tag, 'File Meta elements are written from the meta options, not the data set');
  const metaElements = fileMetaElements(meta);
  const sink = new ByteSink(132 + estimate(metaElements) + estimate(dataSet));
  for (let i = 0; i < 128; i++) sink.u8(0);
  sink.raw(new Uint8Array([0x44, 0x49, 0x43, 0x4d]));
  writeElements(sink, metaElements);
  writeElements(sink, dataSet);
  return sink.result();
}
