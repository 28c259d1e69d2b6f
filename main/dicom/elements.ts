/**
 * The product's DICOM data sets as typed elements (tag, VR, value), checked against their VR
 * before dcmjs writes them: dcmjs truncates an over-long value with a warning and writes any
 * string, so a bug in a caller would otherwise make a file other readers reject.
 */
/** Text VRs (a string, or several joined with a backslash). */
export type TextVR =
  'AE' | 'AS' | 'CS' | 'DA' | 'DS' | 'DT' | 'IS' | 'LO' | 'LT' | 'PN' | 'SH' | 'ST' | 'TM' | 'UC' | 'UI' | 'UR' | 'UT';
/** Binary numeric VRs (one number or several). */
export type NumberVR = 'US' | 'SS' | 'UL' | 'SL' | 'FL' | 'FD';
/** Binary blob VRs. */
export type BytesVR = 'OB' | 'OW';
export type VR = TextVR | NumberVR | BytesVR | 'SQ';

/** One element. `tag` is (group << 16) | element, e.g. 0x00100010 for Patient's Name. */
export type DicomElement =
  | { tag: number; vr: TextVR; value: string | readonly string[] }
  | { tag: number; vr: NumberVR; value: number | readonly number[] }
  | { tag: number; vr: BytesVR; value: Uint8Array | Uint16Array }
  | { tag: number; vr: 'SQ'; value: readonly (readonly DicomElement[])[] };

/** The character set that allows text beyond ASCII (dcmjs writes strings as UTF-8). */
export const UTF8_CHARACTER_SET = 'ISO_IR 192';

export class DicomWriteError extends Error {
  readonly tag: number;
  constructor(tag: number, message: string) {
    super(`(${tagText(tag)}): ${message}`);
    this.name = 'DicomWriteError';
    this.tag = tag;
  }
}

export function tagText(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 4)},${hex.slice(4)}`;
}

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

/** VRs whose values never leave the default repertoire, whatever the character set. */
const ASCII_ONLY = new Set<TextVR>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'TM', 'UI', 'UR']);

function checkCharacters(tag: number, vr: TextVR, text: string, utf8: boolean): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x0c && code !== 0x1b) {
      throw new DicomWriteError(tag, `control character ${code} is not allowed in ${vr}`);
    }
    if (code > 0x7e && (!utf8 || ASCII_ONLY.has(vr))) {
      throw new DicomWriteError(
        tag,
        utf8
          ? `${vr} allows only the default repertoire`
          : `character code ${code} needs Specific Character Set ${UTF8_CHARACTER_SET}`,
      );
    }
  }
}

function checkText(tag: number, vr: TextVR, values: readonly string[], utf8: boolean): void {
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
    checkCharacters(tag, vr, value, utf8);
  }
}

const NUMBER_RANGE: Partial<Record<NumberVR, [number, number]>> = {
  US: [0, 0xffff],
  SS: [-0x8000, 0x7fff],
  UL: [0, 0xffffffff],
  SL: [-0x80000000, 0x7fffffff],
};

function checkNumbers(tag: number, vr: NumberVR, values: readonly number[]): void {
  const range = NUMBER_RANGE[vr];
  for (const n of values) {
    if (range && (!Number.isInteger(n) || n < range[0] || n > range[1])) {
      throw new DicomWriteError(tag, `${n} does not fit ${vr}`);
    }
    if (!range && !Number.isFinite(n)) throw new DicomWriteError(tag, `${n} is not a finite ${vr}`);
  }
}

/** The value's own bytes, in a buffer of exactly their length, little-endian. */
function ownBytes(value: Uint8Array | Uint16Array): ArrayBuffer {
  if (value instanceof Uint16Array && new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    const bytes = new Uint8Array(value.length * 2);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < value.length; i++) view.setUint16(i * 2, value[i], true);
    return bytes.buffer;
  }
  const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
  if (whole && value.buffer instanceof ArrayBuffer) return value.buffer;
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice().buffer;
}

type DcmjsDict = Record<string, { vr: string; Value: unknown[] }>;

/**
 * Elements as dcmjs's denaturalized dictionary, checked. `utf8`: the data set declares
 * ISO_IR 192, so names and descriptions may hold any character.
 */
export function toDcmjs(elements: readonly DicomElement[], utf8: boolean): DcmjsDict {
  const dict: DcmjsDict = {};
  for (const element of elements) {
    const { tag } = element;
    const key = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
    if (key in dict) throw new DicomWriteError(tag, 'the tag appears twice');
    if (tag >>> 16 === 0xfffe) throw new DicomWriteError(tag, 'item delimitation tags are written by the writer');
    switch (element.vr) {
      case 'SQ':
        dict[key] = { vr: 'SQ', Value: element.value.map((item) => toDcmjs(item, utf8)) };
        break;
      case 'US':
      case 'SS':
      case 'UL':
      case 'SL':
      case 'FL':
      case 'FD': {
        const values = typeof element.value === 'number' ? [element.value] : [...element.value];
        checkNumbers(tag, element.vr, values);
        dict[key] = { vr: element.vr, Value: values };
        break;
      }
      case 'OB':
      case 'OW':
        if (element.vr === 'OW' && !(element.value instanceof Uint16Array) && element.value.length % 2 !== 0) {
          throw new DicomWriteError(tag, 'OW needs an even number of bytes');
        }
        dict[key] = { vr: element.vr, Value: [ownBytes(element.value)] };
        break;
      default: {
        const values = typeof element.value === 'string' ? [element.value] : [...element.value];
        checkText(tag, element.vr, values, utf8);
        // An empty single value is written as a zero-length element.
        dict[key] = { vr: element.vr, Value: values.length === 1 && values[0] === '' ? [] : values };
      }
    }
  }
  return dict;
}
