/**
 * A small JPEG lossless (process 14) encoder for the tests, for what dcmtk's and gdcm's encoders
 * cannot be asked to write: restart intervals, components in scans of their own, any precision
 * from 2 to 16, and Huffman tables of long codes. It is not a reference: every file it writes is
 * decoded by dcmtk and gdcm first, and the tests compare against what they decode.
 */

export interface LosslessEncoding {
  columns: number;
  rows: number;
  /** 1 to 4, interleaved by pixel. */
  components: number;
  /** Bits a sample, 2 to 16. */
  precision: number;
  /** Selection value 1 to 7. */
  predictor: number;
  pointTransform?: number;
  /** In MCUs (samples of every component of the scan); a multiple of `columns`, or 0. */
  restartInterval?: number;
  /** One scan for all components (default) or a scan each. */
  interleaved?: boolean;
  /** Code length of each category 0..16 (Kraft sum at most 1); a balanced default otherwise. */
  codeLengths?: number[];
}

/** Code lengths with lengths 3 to 14: every category has a code. */
export const DEFAULT_CODE_LENGTHS = [3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
/** Every code 13 bits or longer: beyond a 12-bit lookahead table. */
export const LONG_CODE_LENGTHS = [13, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16];

class BitWriter {
  bytes: number[] = [];
  private buffer = 0;
  private bits = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.buffer = (this.buffer << 1) | ((value >> i) & 1);
      if (++this.bits === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.buffer);
    if (this.buffer === 0xff) this.bytes.push(0); // byte stuffing
    this.buffer = 0;
    this.bits = 0;
  }

  /** Pads the last byte with 1 bits (T.81 F.1.2.3). */
  align(): void {
    while (this.bits !== 0) this.write(1, 1);
  }
}

function segment(marker: number, body: number[]): number[] {
  const length = body.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...body];
}

/** Canonical codes (T.81 annex C) for symbols 0..16 of the given lengths. */
function canonical(lengths: number[]): { counts: number[]; symbols: number[]; code: number[] } {
  const counts = new Array<number>(16).fill(0);
  const symbols: number[] = [];
  const code = new Array<number>(17).fill(0);
  let next = 0;
  for (let length = 1; length <= 16; length++) {
    for (let symbol = 0; symbol < lengths.length; symbol++) {
      if (lengths[symbol] !== length) continue;
      counts[length - 1]++;
      symbols.push(symbol);
      code[symbol] = next++;
    }
    next <<= 1;
  }
  return { counts, symbols, code };
}

/** The predictor of T.81 table H.1, as libjpeg computes it (arithmetic shift). */
function predict(predictor: number, ra: number, rb: number, rc: number): number {
  switch (predictor) {
    case 1:
      return ra;
    case 2:
      return rb;
    case 3:
      return rc;
    case 4:
      return ra + rb - rc;
    case 5:
      return ra + ((rb - rc) >> 1);
    case 6:
      return rb + ((ra - rc) >> 1);
    default:
      return (ra + rb) >> 1;
  }
}

/** A JPEG lossless codestream (SOI to EOI) of `samples`, interleaved by pixel. */
export function encodeJpegLossless(samples: ArrayLike<number>, options: LosslessEncoding): Uint8Array {
  const { columns, rows, components, precision, predictor } = options;
  const pointTransform = options.pointTransform ?? 0;
  const restartInterval = options.restartInterval ?? 0;
  const lengths = options.codeLengths ?? DEFAULT_CODE_LENGTHS;
  const table = canonical(lengths);
  const out: number[] = [0xff, 0xd8];
  const frame = [precision, rows >> 8, rows & 0xff, columns >> 8, columns & 0xff, components];
  for (let c = 0; c < components; c++) frame.push(c + 1, 0x11, 0);
  out.push(...segment(0xc3, frame));
  out.push(...segment(0xc4, [0x00, ...table.counts, ...table.symbols]));
  if (restartInterval > 0) out.push(...segment(0xdd, [restartInterval >> 8, restartInterval & 0xff]));
  const scans =
    options.interleaved === false ? [...Array(components).keys()].map((c) => [c]) : [[...Array(components).keys()]];
  const value = (row: number, column: number, c: number): number =>
    samples[(row * columns + column) * components + c] >> pointTransform;
  for (const scan of scans) {
    const header = [scan.length];
    for (const c of scan) header.push(c + 1, 0x00);
    header.push(predictor, 0, pointTransform);
    out.push(...segment(0xda, header));
    const writer = new BitWriter();
    const rowsPerInterval = restartInterval > 0 ? restartInterval / columns : rows;
    let restarts = 0;
    for (let row = 0; row < rows; row++) {
      const firstRow = row % rowsPerInterval === 0;
      if (firstRow && row > 0) {
        writer.align();
        writer.bytes.push(0xff, 0xd0 + (restarts++ & 7));
      }
      for (let column = 0; column < columns; column++) {
        for (const c of scan) {
          let px: number;
          if (firstRow && column === 0) px = 1 << (precision - pointTransform - 1);
          else if (firstRow) px = value(row, column - 1, c);
          else if (column === 0) px = value(row - 1, column, c);
          else
            px = predict(
              predictor,
              value(row, column - 1, c),
              value(row - 1, column, c),
              value(row - 1, column - 1, c),
            );
          // The difference modulo 2^16, in -32767..32768 (T.81 H.1.2.2).
          let difference = (value(row, column, c) - px) & 0xffff;
          if (difference > 32768) difference -= 65536;
          const magnitude = Math.abs(difference);
          const category = difference === 32768 ? 16 : magnitude === 0 ? 0 : 32 - Math.clz32(magnitude);
          writer.write(table.code[category], lengths[category]);
          if (category > 0 && category < 16) {
            writer.write(difference > 0 ? difference : difference + (1 << category) - 1, category);
          }
        }
      }
    }
    writer.align();
    out.push(...writer.bytes);
  }
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}
