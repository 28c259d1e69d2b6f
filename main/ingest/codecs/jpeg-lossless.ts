/**
 * JPEG lossless, process 14 (ITU-T T.81 annex H, Huffman coding): DICOM's 1.2.840.10008.1.2.4.57
 * (any predictor) and .70 (predictor 1). Our own decoder: the JavaScript ones we had were twice as
 * slow as dcmtk. Precision 2 to 16 bits, point transform, predictors 1 to 7, restart intervals, 1
 * to 4 components interleaved in one scan or in scans of their own (sampling factors 1).
 *
 * Hostile input: the frame's size is checked against the DICOM attributes and the decode budget
 * before anything is allocated, every segment's length against the frame, and decoding does a
 * bounded amount of work per sample (at least one bit each), so corrupt data ends in a coded error.
 */
import { TriageError } from '../../errors/index.js';
import { MAX_DECODED_BYTES } from '../budget.js';
import type { PixelDescription } from '../dicom/attributes.js';
import { checkAgainstAttributes } from './codestream.js';
import { BitReader, buildHuffmanTable, decodeDifferences } from './jpeg-huffman.js';
import type { HuffmanSpec, HuffmanTable } from './jpeg-huffman.js';
import type { DecodedFrame, FrameRequest } from './types.js';

interface FrameComponent {
  id: number;
  /** Where its samples sit within a pixel. */
  index: number;
}

interface Frame {
  precision: number;
  rows: number;
  columns: number;
  components: FrameComponent[];
}

interface Scan {
  components: FrameComponent[];
  tables: HuffmanTable[];
  predictor: number;
  pointTransform: number;
}

function malformed(what: string): never {
  throw new TriageError('MALFORMED', `The JPEG lossless frame is corrupt: ${what}.`);
}

function unsupported(what: string): never {
  throw new TriageError('DECODE_FAILED', `The JPEG lossless frame uses ${what}, which this decoder does not support.`);
}

function truncated(what: string): never {
  throw new TriageError('TRUNCATED', `The JPEG lossless frame ends ${what}.`);
}

const SOF3 = 0xc3;
const DHT = 0xc4;
const DAC = 0xcc;
const SOS = 0xda;
const DRI = 0xdd;
const EOI = 0xd9;
const isRst = (marker: number): boolean => marker >= 0xd0 && marker <= 0xd7;
/** Start-of-frame markers of the other coding processes (C4, C8 and CC are DHT, JPG and DAC). */
const isOtherSof = (marker: number): boolean =>
  marker >= 0xc0 && marker <= 0xcf && marker !== SOF3 && marker !== DHT && marker !== 0xc8 && marker !== DAC;

const readUint16 = (bytes: Uint8Array, at: number): number => (bytes[at] << 8) | bytes[at + 1];

function parseFrame(bytes: Uint8Array, at: number, length: number, description: PixelDescription): Frame {
  if (length < 11) malformed(`a start-of-frame segment of ${length} bytes`);
  const precision = bytes[at];
  const count = bytes[at + 5];
  if (length !== 8 + 3 * count) malformed(`a start-of-frame segment of ${length} bytes for ${count} components`);
  if (precision < 2 || precision > 16) malformed(`a sample precision of ${precision} bits`);
  const components: FrameComponent[] = [];
  for (let i = 0; i < count; i++) {
    const id = bytes[at + 6 + 3 * i];
    const sampling = bytes[at + 7 + 3 * i];
    if (components.some((c) => c.id === id)) malformed(`component ${id} defined twice`);
    // One component: its sampling factors do not matter. Several: interleaved MCUs of one
    // sample each (DICOM's case) only.
    if (count > 1 && sampling !== 0x11) unsupported(`sampling factors ${sampling >> 4} x ${sampling & 15}`);
    components.push({ id, index: i });
  }
  const height = readUint16(bytes, at + 1);
  const columns = readUint16(bytes, at + 3);
  // Before anything is allocated: the frame is the image the attributes describe (and so within
  // the pixel budget they were checked against).
  checkAgainstAttributes({ width: columns, height, components: count, precision }, description);
  // A height of 0 is given later by a DNL marker; the DICOM attributes give it here.
  return { precision, rows: height === 0 ? description.rows : height, columns, components };
}

function parseHuffmanTables(bytes: Uint8Array, at: number, length: number, specs: (HuffmanSpec | null)[]): void {
  const end = at + length - 2;
  while (at < end) {
    if (at + 17 > end) malformed('a Huffman table segment ends inside a table');
    const classAndId = bytes[at];
    const counts = bytes.subarray(at + 1, at + 17);
    let total = 0;
    for (let i = 0; i < 16; i++) total += counts[i];
    if (at + 17 + total > end) malformed('a Huffman table segment ends inside a table');
    if (total > 256) malformed(`a Huffman table of ${total} codes`);
    const id = classAndId & 15;
    if (classAndId >> 4 > 1 || id > 3) malformed(`Huffman table class and id ${classAndId.toString(16)}`);
    // Lossless coding uses the DC class only; AC tables (which a lossless frame should not have) are skipped.
    if (classAndId >> 4 === 0) specs[id] = { counts: counts.slice(), symbols: bytes.slice(at + 17, at + 17 + total) };
    at += 17 + total;
  }
}

function parseScan(
  bytes: Uint8Array,
  at: number,
  length: number,
  frame: Frame,
  specs: (HuffmanSpec | null)[],
  decoded: Set<FrameComponent>,
): Scan {
  const count = bytes[at];
  if (count < 1 || count > 4 || length !== 6 + 2 * count)
    malformed(`a scan header of ${length} bytes for ${count} components`);
  const components: FrameComponent[] = [];
  const tables: HuffmanTable[] = [];
  const built = new Map<number, HuffmanTable>();
  for (let i = 0; i < count; i++) {
    const id = bytes[at + 1 + 2 * i];
    const component = frame.components.find((c) => c.id === id);
    if (!component) malformed(`a scan of component ${id}, which the frame does not define`);
    if (decoded.has(component) || components.includes(component)) malformed(`component ${id} coded twice`);
    const tableId = bytes[at + 2 + 2 * i] >> 4;
    const spec = tableId < 4 ? specs[tableId] : null;
    if (!spec) malformed(`a scan that uses Huffman table ${tableId}, which is not defined`);
    // Built here, not at each DHT: a frame of thousands of tables costs nothing until a scan uses one.
    let table = built.get(tableId);
    if (!table) built.set(tableId, (table = buildHuffmanTable(spec)));
    components.push(component);
    tables.push(table);
  }
  const predictor = bytes[at + 1 + 2 * count];
  const pointTransform = bytes[at + 3 + 2 * count] & 15;
  if (predictor === 0) unsupported('a hierarchical (differential) scan');
  if (predictor > 7) malformed(`predictor ${predictor}`);
  if (pointTransform >= frame.precision) malformed(`a point transform of ${pointTransform} bits`);
  return { components, tables, predictor, pointTransform };
}

/**
 * Samples of a row from their differences (T.81 H.1.2.1), modulo 2^16 as the standard (and
 * libjpeg) reconstruct them. Samples of one component sit `stride` apart; the first row of a scan
 * or restart interval predicts from the left only, starting from 2^(P - Pt - 1); the first sample
 * of any other row from the one above.
 */
function reconstructRow(
  out: Uint16Array,
  start: number,
  stride: number,
  differences: Int32Array,
  first: number,
  step: number,
  count: number,
  predictor: number,
  firstRow: boolean,
  initial: number,
  above: number,
): void {
  let o = start;
  let d = first;
  const end = d + count * step;
  if (firstRow) {
    let ra = (differences[d] + initial) & 0xffff;
    out[o] = ra;
    for (d += step, o += stride; d < end; d += step, o += stride) {
      ra = (differences[d] + ra) & 0xffff;
      out[o] = ra;
    }
    return;
  }
  let ra = (differences[d] + out[o - above]) & 0xffff;
  out[o] = ra;
  d += step;
  o += stride;
  switch (predictor) {
    case 1:
      for (; d < end; d += step, o += stride) out[o] = ra = (differences[d] + ra) & 0xffff;
      break;
    case 2:
      for (; d < end; d += step, o += stride) out[o] = (differences[d] + out[o - above]) & 0xffff;
      break;
    case 3:
      for (; d < end; d += step, o += stride) out[o] = (differences[d] + out[o - above - stride]) & 0xffff;
      break;
    case 4:
      for (; d < end; d += step, o += stride)
        out[o] = ra = (differences[d] + ra + out[o - above] - out[o - above - stride]) & 0xffff;
      break;
    case 5:
      for (; d < end; d += step, o += stride)
        out[o] = ra = (differences[d] + ra + ((out[o - above] - out[o - above - stride]) >> 1)) & 0xffff;
      break;
    case 6:
      for (; d < end; d += step, o += stride)
        out[o] = ra = (differences[d] + out[o - above] + ((ra - out[o - above - stride]) >> 1)) & 0xffff;
      break;
    case 7:
      for (; d < end; d += step, o += stride) out[o] = ra = (differences[d] + ((ra + out[o - above]) >> 1)) & 0xffff;
      break;
  }
}

/** The next marker from `at`, past fill bytes; -1 at the end of the frame. Returns [marker, position after it]. */
function nextMarker(bytes: Uint8Array, at: number): [number, number] {
  while (at + 1 < bytes.length) {
    if (bytes[at] === 0xff && bytes[at + 1] !== 0 && bytes[at + 1] !== 0xff) return [bytes[at + 1], at + 2];
    at++;
  }
  return [-1, bytes.length];
}

/** Decodes one scan's entropy-coded data into `out`; returns where the data ended. */
function decodeScan(
  bytes: Uint8Array,
  start: number,
  frame: Frame,
  scan: Scan,
  restartInterval: number,
  out: Uint16Array,
): number {
  const { columns, rows } = frame;
  const stride = frame.components.length;
  const perPixel = scan.components.length;
  let rowsPerInterval = rows;
  if (restartInterval > 0) {
    // libjpeg (dcmtk's codec) accepts only whole rows of MCUs between restarts; so do we.
    if (restartInterval % columns !== 0)
      unsupported(`a restart interval of ${restartInterval} samples across rows of ${columns}`);
    rowsPerInterval = restartInterval / columns;
  }
  const reader = new BitReader(bytes, start);
  const differences = new Int32Array(columns * perPixel);
  const initial = 1 << (frame.precision - scan.pointTransform - 1);
  const above = columns * stride;
  let restarts = 0;
  for (let row = 0; row < rows; row++) {
    const firstRow = row % rowsPerInterval === 0;
    if (firstRow && row > 0) {
      // The interval's last byte is padded with 1 bits; its restart marker follows (after fill bytes).
      reader.align();
      const [marker, after] = nextMarker(bytes, reader.position);
      if (marker < 0) truncated(`before restart interval ${restarts + 2}`);
      if (marker !== 0xd0 + (restarts & 7))
        malformed(`marker ${marker.toString(16)} where restart marker ${restarts & 7} belongs`);
      reader.position = after;
      restarts++;
    }
    decodeDifferences(reader, scan.tables, differences, columns * perPixel);
    if (reader.overrun()) truncated(`within row ${row + 1} of ${rows}`);
    for (let c = 0; c < perPixel; c++) {
      const start = row * columns * stride + scan.components[c].index;
      reconstructRow(out, start, stride, differences, c, perPixel, columns, scan.predictor, firstRow, initial, above);
    }
  }
  if (scan.pointTransform > 0) {
    // Predictions work on the transformed values; the samples are the values shifted back up.
    for (const component of scan.components) {
      for (let i = component.index; i < out.length; i += stride) out[i] <<= scan.pointTransform;
    }
  }
  return reader.position;
}

/** Decodes a whole JPEG lossless codestream to samples, pixel by pixel, component by component. */
export function decodeLosslessCodestream(
  bytes: Uint8Array,
  description: PixelDescription,
): { frame: Frame; samples: Uint16Array } {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) malformed('no start-of-image marker');
  const specs: (HuffmanSpec | null)[] = [null, null, null, null];
  const decoded = new Set<FrameComponent>();
  let frame: Frame | null = null;
  let samples: Uint16Array | null = null;
  let restartInterval = 0;
  let at = 2;
  for (;;) {
    if (at + 1 >= bytes.length) break;
    if (bytes[at] !== 0xff) {
      // Bytes after a scan's data that the scan did not use; the next marker follows.
      const [found, after] = nextMarker(bytes, at);
      if (found < 0) break;
      at = after - 2;
    }
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    at += 2;
    if (marker === EOI) break;
    if (isRst(marker) || marker === 0x01 || marker === 0x00) continue; // no segment
    if (at + 2 > bytes.length) truncated('inside a marker segment');
    const length = readUint16(bytes, at);
    if (length < 2) malformed(`a marker segment of length ${length}`);
    if (at + length > bytes.length) truncated('inside a marker segment');
    const body = at + 2;
    at += length;
    if (marker === SOF3) {
      if (frame) malformed('a second start-of-frame');
      frame = parseFrame(bytes, body, length, description);
      samples = new Uint16Array(frame.rows * frame.columns * frame.components.length);
    } else if (isOtherSof(marker)) {
      unsupported(`coding process SOF${marker - 0xc0} (DICOM JPEG lossless is SOF3)`);
    } else if (marker === DHT) {
      parseHuffmanTables(bytes, body, length, specs);
    } else if (marker === DAC) {
      unsupported('arithmetic coding');
    } else if (marker === DRI) {
      if (length !== 4) malformed(`a restart interval segment of ${length} bytes`);
      restartInterval = readUint16(bytes, body);
    } else if (marker === SOS) {
      if (!frame || !samples) malformed('a scan before the start-of-frame');
      const scan = parseScan(bytes, body, length, frame, specs, decoded);
      at = decodeScan(bytes, at, frame, scan, restartInterval, samples);
      for (const component of scan.components) decoded.add(component);
    }
    // APPn, COM, DQT, DNL and the rest: skipped.
  }
  if (!frame || !samples) truncated('before its start-of-frame');
  if (decoded.size < frame.components.length)
    truncated(`after ${decoded.size} of its ${frame.components.length} components`);
  return { frame, samples };
}

export function decodeJpegLossless({ bytes, description }: FrameRequest): DecodedFrame {
  const count = description.rows * description.columns * description.samplesPerPixel;
  // The work buffer holds 16 bits a sample whatever the precision (predictions are modulo 2^16).
  if (count * 2 > MAX_DECODED_BYTES) {
    throw new TriageError(
      'TOO_LARGE',
      `The JPEG lossless frame's ${count.toLocaleString('en')} samples would take more than ${MAX_DECODED_BYTES / 2 ** 20} MiB.`,
    );
  }
  const { frame, samples } = decodeLosslessCodestream(bytes, description);
  return {
    rows: description.rows,
    columns: description.columns,
    // Precision 8 or less: bytes, as libjpeg's 8-bit samples (the low byte of a corrupt frame's words).
    samples: frame.precision <= 8 ? Uint8Array.from(samples) : samples,
    planar: false,
    convertedToRgb: false,
    level: 0,
  };
}
