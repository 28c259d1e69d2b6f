/**
 * Conformance of the JPEG lossless decoder (process 14: 1.2.840.10008.1.2.4.57 and .70) against
 * dcmtk and gdcm. Every predictor at precisions 8, 12 and 16 as dcmtk's dcmcjpeg writes them, with
 * point transforms, colour, and gdcm's own encodings; then restart intervals, components in scans
 * of their own, every precision from 2 to 16, the difference 32768 and codes beyond the lookahead
 * table, from the tests' encoder (test/support/jpeg-lossless-encoder.ts). Each file is decoded by
 * dcmtk's dcmdjpeg and gdcm's gdcmconv --raw; our samples must equal both, bit for bit, and equal
 * the source wherever the coding is lossless (point transform 0).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeJpegLossless } from '../../main/ingest/codecs/jpeg-lossless.js';
import { readPixelDescription } from '../../main/ingest/dicom/attributes.js';
import { firstEncapsulatedFrame, pixelDataElement } from '../../main/ingest/dicom/frames.js';
import { parseDataSet } from '../../main/ingest/dicom/parse.js';
import { findTransferSyntax } from '../../main/ingest/dicom/transfer-syntax.js';
import { readRadiograph } from '../../main/ingest/index.js';
import { mulberry32 } from '../../main/phantom/index.js';
import { encapsulatedImage } from '../support/hostile.js';
import { encodeJpegLossless, LONG_CODE_LENGTHS } from '../support/jpeg-lossless-encoder.js';
import type { LosslessEncoding } from '../support/jpeg-lossless-encoder.js';
import { scratchDir, tool } from '../support/tools.js';

const PROCESS_14 = '1.2.840.10008.1.2.4.57';
const SV1 = '1.2.840.10008.1.2.4.70';
const scratch = scratchDir('jpeg-lossless');
after(() => scratch.remove());
const path = (name: string): string => join(scratch.path, name);

interface Source {
  name: string;
  columns: number;
  rows: number;
  components: 1 | 3;
  bitsStored: number;
  values: Uint16Array;
}

/**
 * A smooth image with noise, flat corners at 0 and at the maximum (long runs of difference 0, and
 * the extremes), odd sizes so that no row is a whole number of bytes.
 */
function makeSource(
  name: string,
  bitsStored: number,
  components: 1 | 3,
  seed: number,
  columns = 157,
  rows = 61,
): Source {
  const next = mulberry32(seed);
  const max = 2 ** bitsStored - 1;
  const values = new Uint16Array(columns * rows * components);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      for (let c = 0; c < components; c++) {
        let v = max * (0.45 + 0.35 * Math.sin(x / 17 + c) * Math.cos(y / 11)) + (next() - 0.5) * max * 0.04;
        if (y < 5 && x < 7) v = 0;
        if (y >= rows - 3 && x >= columns - 9) v = max;
        values[(y * columns + x) * components + c] = Math.min(max, Math.max(0, Math.round(v)));
      }
    }
  }
  return { name, columns, rows, components, bitsStored, values };
}

const bitsAllocated = (bitsStored: number): 8 | 16 => (bitsStored <= 8 ? 8 : 16);

function rawBytes(values: Uint16Array, bitsStored: number): Uint8Array {
  return bitsAllocated(bitsStored) === 8 ? Uint8Array.from(values) : new Uint8Array(values.buffer.slice(0));
}

/** The source as uncompressed DICOM, written by dcmtk's dump2dcm (the encoders' input). */
function writeUncompressed(source: Source): string {
  const raw = path(`${source.name}.raw`);
  writeFileSync(raw, rawBytes(source.values, source.bitsStored));
  const colour = source.components === 3;
  const allocated = bitsAllocated(source.bitsStored);
  const dump = [
    '(0002,0010) UI =LittleEndianExplicit',
    `(0008,0016) UI =${colour ? 'SecondaryCaptureImageStorage' : 'DigitalXRayImageStorageForPresentation'}`,
    '(0008,0018) UI [2.25.1]',
    '(0008,0060) CS [DX]',
    `(0028,0002) US ${source.components}`,
    `(0028,0004) CS [${colour ? 'RGB' : 'MONOCHROME2'}]`,
    ...(colour ? ['(0028,0006) US 0'] : []),
    `(0028,0010) US ${source.rows}`,
    `(0028,0011) US ${source.columns}`,
    `(0028,0100) US ${allocated}`,
    `(0028,0101) US ${source.bitsStored}`,
    `(0028,0102) US ${source.bitsStored - 1}`,
    '(0028,0103) US 0',
    `(7fe0,0010) ${allocated === 8 ? 'OB' : 'OW'} =${raw}`,
    '',
  ].join('\n');
  writeFileSync(path(`${source.name}.dump`), dump);
  const file = path(`${source.name}.dcm`);
  tool('dump2dcm', [path(`${source.name}.dump`), file]);
  return file;
}

/** A codestream from the tests' encoder, encapsulated as one fragment (empty offset table). */
function writeEncapsulated(name: string, source: Source, codestream: Uint8Array, syntax: string): string {
  const file = path(`${name}.dcm`);
  const image = { ...source, samplesPerPixel: source.components };
  writeFileSync(file, encapsulatedImage(syntax, image, codestream));
  return file;
}

/** The Pixel Data of an uncompressed DICOM file as dcmtk's dcmdump writes it out (+W), less its padding. */
function dumpedPixels(file: string, bitsStored: number, count: number): Uint16Array {
  const dir = path(`w-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  tool('dcmdump', ['-q', '+W', dir, file]);
  const [raw] = readdirSync(dir);
  const bytes = readFileSync(join(dir, raw));
  rmSync(dir, { recursive: true });
  return bitsAllocated(bitsStored) === 8
    ? Uint16Array.from(bytes.subarray(0, count))
    : new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 2 * count));
}

/**
 * The samples dcmtk (dcmdjpeg) and gdcm (gdcmconv --raw) decode from a file. gdcm 3.0 aborts on
 * a JPEG lossless frame of fewer than 8 bits stored in 8 allocated: dcmtk alone for those.
 */
function references(file: string, source: Source): { dcmtk: Uint16Array; gdcm: Uint16Array | null } {
  const count = source.values.length;
  tool('dcmdjpeg', [file, `${file}.dcmtk.dcm`]);
  const dcmtk = dumpedPixels(`${file}.dcmtk.dcm`, source.bitsStored, count);
  if (source.bitsStored < 8) return { dcmtk, gdcm: null };
  tool('gdcmconv', ['--raw', file, `${file}.gdcm.dcm`]);
  return { dcmtk, gdcm: dumpedPixels(`${file}.gdcm.dcm`, source.bitsStored, count) };
}

/** Our decoder's samples, straight from the codec (before any pixel semantics). */
async function ours(file: string): Promise<{ samples: Uint8Array | Uint16Array; syntax: string }> {
  const dataSet = await parseDataSet(new Uint8Array(readFileSync(file)));
  const description = readPixelDescription(dataSet);
  const syntax = findTransferSyntax(dataSet.string('x00020010')!.replace(/\0/g, '').trim())!;
  const frame = firstEncapsulatedFrame(dataSet, pixelDataElement(dataSet), syntax, description);
  const decoded = decodeJpegLossless({ bytes: frame, description, bigEndian: false });
  assert.equal(decoded.rows, description.rows);
  assert.equal(decoded.columns, description.columns);
  assert.equal(decoded.planar, false);
  return { samples: decoded.samples as Uint8Array | Uint16Array, syntax: syntax.uid };
}

function assertSameSamples(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: sample count`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: sample ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Our samples equal dcmtk's and gdcm's, and the source when nothing was transformed away. */
async function check(file: string, source: Source, what: string, pointTransform: number, syntax?: string) {
  const { dcmtk, gdcm } = references(file, source);
  const { samples, syntax: uid } = await ours(file);
  if (syntax) assert.equal(uid, syntax, `${what}: transfer syntax`);
  assert.equal(samples instanceof Uint8Array, source.bitsStored <= 8, `${what}: bytes for 8 bits or less`);
  if (gdcm) assertSameSamples(gdcm, dcmtk, `${what}: gdcm against dcmtk`);
  assertSameSamples(samples, dcmtk, `${what}: ours against dcmtk${gdcm ? ' and gdcm' : ''}`);
  const expected = Uint16Array.from(source.values, (v) => (v >> pointTransform) << pointTransform);
  assertSameSamples(samples, expected, `${what}: ours against the source${pointTransform ? ' (point transform)' : ''}`);
}

/** SOF3 precision, SOS predictor and point transform of a file's codestream, as written. */
function codestreamParameters(file: string): { precision: number; predictor: number; pointTransform: number } {
  const bytes = readFileSync(file);
  const sof = bytes.indexOf(Buffer.from([0xff, 0xc3]));
  const sos = bytes.indexOf(Buffer.from([0xff, 0xda]));
  const count = bytes[sos + 4];
  return {
    precision: bytes[sof + 4],
    predictor: bytes[sos + 5 + 2 * count],
    pointTransform: bytes[sos + 7 + 2 * count] & 15,
  };
}

const SOURCES = {
  grey8: makeSource('grey8', 8, 1, 8),
  grey12: makeSource('grey12', 12, 1, 12),
  grey16: makeSource('grey16', 16, 1, 16),
  rgb8: makeSource('rgb8', 8, 3, 38),
  rgb16: makeSource('rgb16', 16, 3, 316),
};

describe('dcmtk encodings (dcmcjpeg) decode as dcmtk and gdcm decode them', () => {
  const uncompressed = new Map<string, string>();
  const input = (source: Source): string => {
    if (!uncompressed.has(source.name)) uncompressed.set(source.name, writeUncompressed(source));
    return uncompressed.get(source.name)!;
  };
  // dcmcjpeg's default codec (+tl) writes 12-bit data at precision 16; its older codec (+pl) at 12.
  const cases: { source: Source; options: string[]; precision: number }[] = [];
  for (let sv = 1; sv <= 7; sv++) {
    cases.push({ source: SOURCES.grey8, options: ['+el', '+sv', `${sv}`], precision: 8 });
    cases.push({ source: SOURCES.grey12, options: ['+pl', '+el', '+sv', `${sv}`], precision: 12 });
    cases.push({ source: SOURCES.grey12, options: ['+el', '+sv', `${sv}`], precision: 16 });
    cases.push({ source: SOURCES.grey16, options: ['+el', '+sv', `${sv}`], precision: 16 });
  }
  cases.push(
    { source: SOURCES.grey8, options: ['+e1'], precision: 8 },
    { source: SOURCES.grey12, options: ['+e1'], precision: 16 },
    { source: SOURCES.grey16, options: ['+e1'], precision: 16 },
    { source: SOURCES.grey8, options: ['+el', '+sv', '2', '+pt', '3'], precision: 8 },
    { source: SOURCES.grey12, options: ['+pl', '+el', '+sv', '6', '+pt', '1'], precision: 12 },
    { source: SOURCES.grey12, options: ['+el', '+sv', '3', '+pt', '2'], precision: 16 },
    { source: SOURCES.grey16, options: ['+el', '+sv', '7', '+pt', '4'], precision: 16 },
    { source: SOURCES.rgb8, options: ['+el', '+sv', '4'], precision: 8 },
    { source: SOURCES.rgb8, options: ['+e1'], precision: 8 },
    { source: SOURCES.rgb16, options: ['+el', '+sv', '5'], precision: 16 },
  );
  for (const { source, options, precision } of cases) {
    const what = `${source.name} dcmcjpeg ${options.join(' ')}`;
    test(what, async () => {
      const file = path(`${source.name}${options.join('').replace(/[^a-z0-9]/g, '')}.dcm`);
      tool('dcmcjpeg', [...options, input(source), file]);
      const sv = options.includes('+e1') ? 1 : Number(options[options.indexOf('+sv') + 1]);
      const pt = options.includes('+pt') ? Number(options[options.indexOf('+pt') + 1]) : 0;
      // The codestream is what the case says it is: the encoder took the options.
      assert.deepEqual(codestreamParameters(file), { precision, predictor: sv, pointTransform: pt });
      await check(file, source, what, pt, options.includes('+e1') ? SV1 : PROCESS_14);
    });
  }
});

describe('gdcm encodings (gdcmconv --jpeg) decode as dcmtk and gdcm decode them', () => {
  for (const source of Object.values(SOURCES)) {
    test(source.name, async () => {
      const input = writeUncompressed({ ...source, name: `${source.name}-for-gdcm` });
      const file = path(`${source.name}-gdcm.dcm`);
      tool('gdcmconv', ['--jpeg', input, file]);
      assert.equal(codestreamParameters(file).predictor, 1);
      await check(file, source, `${source.name} gdcmconv --jpeg`, 0, SV1);
    });
  }
});

describe("the tests' encoder: what dcmcjpeg and gdcmconv do not write", () => {
  const encoded = (
    name: string,
    source: Source,
    options: Omit<LosslessEncoding, 'columns' | 'rows' | 'components' | 'precision'> & { precision?: number },
  ) =>
    writeEncapsulated(
      name,
      source,
      encodeJpegLossless(source.values, {
        columns: source.columns,
        rows: source.rows,
        components: source.components,
        precision: options.precision ?? source.bitsStored,
        ...options,
      }),
      PROCESS_14,
    );

  test('restart intervals of one and several rows reset prediction, every predictor', async () => {
    for (let predictor = 1; predictor <= 7; predictor++) {
      for (const rowsPerInterval of [1, 7]) {
        const source = SOURCES.grey12;
        const name = `restart-sv${predictor}-${rowsPerInterval}`;
        const file = encoded(name, source, { predictor, restartInterval: rowsPerInterval * source.columns });
        await check(file, source, name, 0);
      }
    }
    // More than eight intervals: the marker numbers wrap from RST7 to RST0.
    const rgb = SOURCES.rgb8;
    const file = encoded('restart-rgb', rgb, { predictor: 6, restartInterval: 2 * rgb.columns, pointTransform: 1 });
    await check(file, rgb, 'restart-rgb', 1);
  });

  test('colour components in scans of their own', async () => {
    for (const source of [SOURCES.rgb8, SOURCES.rgb16]) {
      const file = encoded(`planes-${source.name}`, source, { predictor: 7, interleaved: false });
      await check(file, source, `planes-${source.name}`, 0);
    }
  });

  test('every precision from 2 to 16 bits', async () => {
    for (let bits = 2; bits <= 16; bits++) {
      const source = makeSource(`precision${bits}`, bits, 1, 100 + bits, 67, 23);
      const predictor = 1 + (bits % 7);
      const file = encoded(`precision-${bits}`, source, { predictor, pointTransform: bits > 4 ? 1 : 0 });
      await check(file, source, `precision ${bits}, predictor ${predictor}`, bits > 4 ? 1 : 0);
    }
  });

  test('the 16-bit difference of 32768 (category 16, no additional bits)', async () => {
    const source = makeSource('jumps', 16, 1, 5, 64, 16);
    // Steps of exactly half the range, up and down: differences of 32768 modulo 2^16 with predictor 1.
    for (let i = 0; i < source.values.length; i++)
      if (i % 5 === 0) source.values[i] = (source.values[i - 1] ?? 0) ^ 0x8000;
    const file = encoded('jumps', source, { predictor: 1 });
    await check(file, source, 'difference 32768', 0);
  });

  test('Huffman codes longer than the lookahead table (13 to 16 bits)', async () => {
    for (const source of [SOURCES.grey12, SOURCES.grey16]) {
      const file = encoded(`long-codes-${source.name}`, source, { predictor: 4, codeLengths: LONG_CODE_LENGTHS });
      await check(file, source, `long codes ${source.name}`, 0);
    }
  });
});

test('a dcmtk JPEG lossless file reads through the ingest as dcmtk decodes it', async () => {
  const source = SOURCES.grey12;
  const file = path('ingest-sv7.dcm');
  tool('dcmcjpeg', ['+el', '+sv', '7', writeUncompressed({ ...source, name: 'ingest' }), file]);
  const { dcmtk } = references(file, source);
  const radiograph = await readRadiograph(file);
  assert.equal(radiograph.transferSyntax?.uid, PROCESS_14);
  assertSameSamples(radiograph.pixels, dcmtk, 'readRadiograph against dcmdjpeg');
});
