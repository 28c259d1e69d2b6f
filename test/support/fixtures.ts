/** The DICOM conformance fixtures' manifest (written by test/fixtures/dicom/make-fixtures.sh). */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DICOM_FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));

export interface RawRef {
  raw: string;
  dtype: 'uint8' | 'uint16' | 'int16';
}

export interface FixtureEntry {
  file: string;
  transferSyntaxUID?: string;
  rows: number;
  columns: number;
  bitsStored: number;
  bitsAllocated?: number;
  photometric?: string;
  samplesPerPixel?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  windowCenter?: number | null;
  windowWidth?: number | null;
  lossless?: boolean;
  expected: (RawRef & { kind: 'stored' }) | null;
  lossyReference?: RawRef & { decoder: string };
  minPsnrDb?: number;
  minLumaPsnrDb?: number;
  expectError?: string;
  pixelPaddingValue?: number;
  paddingBorder?: number;
  voiLut?: { descriptor: [number, number, number]; data: RawRef };
}

export const fixtureManifest = JSON.parse(readFileSync(join(DICOM_FIXTURES, 'manifest.json'), 'utf8')) as {
  fixtures: FixtureEntry[];
};

export function readRaw(ref: RawRef): Uint8Array | Uint16Array | Int16Array {
  const bytes = readFileSync(join(DICOM_FIXTURES, ref.raw));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (ref.dtype === 'uint8') return new Uint8Array(buffer);
  return ref.dtype === 'uint16' ? new Uint16Array(buffer) : new Int16Array(buffer);
}

/** Rec. 601 luminance of interleaved RGB samples. */
export function luminance(rgb: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  return out;
}

export function psnr(actual: ArrayLike<number>, expected: ArrayLike<number>, peak: number): number {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) sum += (actual[i] - expected[i]) ** 2;
  const mse = sum / expected.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

export function maxAbsDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}
