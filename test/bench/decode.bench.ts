/**
 * Decode benchmark (not a test): `npm run bench:decode`, BENCH_RUNS=n for the number of timed runs
 * (default 7, after one warm-up), BENCH_KEEP=1 to keep the scratch folder, BENCH_PYTHON=path for a
 * Python 3 with pydicom (default /usr/bin/python3).
 *
 * A deterministic 2500 x 2048, 12-bit chest-like image is written as uncompressed DICOM by dcmtk's
 * dump2dcm, then encoded by independent tools: JPEG lossless SV1 (dcmcjpeg +e1), JPEG 2000
 * lossless (gdcmconv --j2k), HTJ2K lossless (ojph_compress, wrapped by pydicom). Each file is
 * decoded by our ingest stage (checked bit-exact against the source) and by the native tools;
 * then file to model input (readRadiograph at the resolution the model needs + preprocess to
 * N x N) against the native tools' full decode, and where our full-resolution time goes.
 */
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FRAME_DECODERS } from '../../main/ingest/codecs/index.js';
import { readPixelDescription } from '../../main/ingest/dicom/attributes.js';
import { firstEncapsulatedFrame, firstNativeFrame, pixelDataElement } from '../../main/ingest/dicom/frames.js';
import { parseDataSet } from '../../main/ingest/dicom/parse.js';
import { findTransferSyntax } from '../../main/ingest/dicom/transfer-syntax.js';
import { decodeRadiograph, readRadiograph } from '../../main/ingest/index.js';
import type { Radiograph } from '../../main/ingest/index.js';
import { toModality } from '../../main/ingest/pixels/modality.js';
import { automaticWindow, lutWindow, readDicomWindow, readVoiLut } from '../../main/ingest/pixels/window.js';
import type { InputSpec } from '../../main/packs/manifest.js';
import { inputSpec } from '../support/input-specs.js';
import { preprocess } from '../../main/preprocess/index.js';
import type { ModelInput } from '../../main/preprocess/index.js';
import { syntheticChest, toLittleEndian, toPgm } from './synthetic-chest.js';
import type { SyntheticImage } from './synthetic-chest.js';

const ROWS = 2500;
const COLUMNS = 2048;
const RUNS = Math.max(1, Number.parseInt(process.env.BENCH_RUNS ?? '7', 10) || 7);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const UID_ROOT = '2.25.209274184630196734071856235214381907511'; // a fixed UUID-derived root: same files every run
const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';
/** A Python 3 with pydicom (apt-get install python3-pydicom): Debian's, not a pyenv shim that lacks it. */
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
/** Model input sizes: 224 (TorchXRayVision's DenseNets) and 512; also the reduced decodes' minShortSide. */
const SIDES = [512, 224] as const;

/** The model input the file-to-input timing produces (a TorchXRayVision-style 1-channel model). */
const sideSpec = (side: number): InputSpec => inputSpec({ height: side, width: side });

// ---------------------------------------------------------------------------------------------
// Timing

interface Timing {
  median: number;
  min: number;
  max: number;
  /** The warm-up run: for the first file of a codec it includes instantiating the WASM module. */
  first: number;
  runs: number[];
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

function summarise(first: number, runs: number[]): Timing {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {
    median: round(median),
    min: round(sorted[0]),
    max: round(sorted[sorted.length - 1]),
    first: round(first),
    runs: runs.map(round),
  };
}

/**
 * One warm-up, then RUNS timed passes of fn; fn may call mark(stage) to time its stages within the
 * pass. Returns the whole pass's timing, each stage's, and the last pass's result.
 */
async function time<T>(
  fn: (mark: (stage: string) => void) => T | Promise<T>,
): Promise<{ timing: Timing; stages: Record<string, Timing>; result: T }> {
  const first: Record<string, number> = {};
  const samples: Record<string, number[]> = {};
  let result!: T;
  for (let pass = 0; pass <= RUNS; pass++) {
    const record = (stage: string, ms: number): unknown =>
      pass === 0 ? (first[stage] = ms) : (samples[stage] ??= []).push(ms);
    const start = performance.now();
    let last = start;
    result = await fn((stage) => {
      const now = performance.now();
      record(stage, now - last);
      last = now;
    });
    record('total', performance.now() - start);
  }
  const stages = Object.fromEntries(
    Object.entries(samples).map(([stage, runs]) => [stage, summarise(first[stage], runs)]),
  );
  return { timing: stages.total, stages, result };
}

// ---------------------------------------------------------------------------------------------
// External tools

/** Runs a tool to completion; a missing tool or a failure stops the bench (a skipped row proves nothing). */
function run(command: string, args: string[], allowFailure = false): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${command} is not installed (apt-get install dcmtk libgdcm-tools openjph-tools)`);
  }
  if (!allowFailure && (result.error || result.status !== 0)) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.error ?? result.stderr.toString().trim()}`);
  }
}

/** Wall time of a whole process (start, decode, write), median of RUNS after one warm-up. */
async function timeProcess(command: string, args: string[], allowFailure = false): Promise<Timing> {
  return (await time(() => run(command, args, allowFailure))).timing;
}

function debVersion(pkg: string): string {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] });
  return result.status === 0 ? result.stdout.toString().trim() : 'unknown';
}

const npmVersion = (pkg: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

const cpuModel = (): string => cpus()[0]?.model.trim() ?? 'unknown';

// ---------------------------------------------------------------------------------------------
// Test image and encodings

function dumpFile(rawPath: string): string {
  // dcmdump syntax; `=file` makes dump2dcm read the OW value from a little-endian raw file.
  return [
    '(0002,0010) UI =LittleEndianExplicit',
    '(0008,0016) UI =DigitalXRayImageStorageForPresentation',
    `(0008,0018) UI [${UID_ROOT}.3]`,
    '(0008,0060) CS [DX]',
    '(0018,0015) CS [CHEST]',
    '(0018,5101) CS [PA]',
    `(0020,000d) UI [${UID_ROOT}.1]`,
    `(0020,000e) UI [${UID_ROOT}.2]`,
    '(0028,0002) US 1',
    '(0028,0004) CS [MONOCHROME2]',
    `(0028,0010) US ${ROWS}`,
    `(0028,0011) US ${COLUMNS}`,
    '(0028,0100) US 16',
    '(0028,0101) US 12',
    '(0028,0102) US 11',
    '(0028,0103) US 0',
    `(7fe0,0010) OW =${rawPath}`,
    '',
  ].join('\n');
}

/** codestream: the bare HTJ2K codestream, for ojph_expand. */
type Encoded = {
  key: 'uncompressed' | 'jpeg-lossless' | 'jpeg2000' | 'htj2k';
  label: string;
  file: string;
  codestream?: string;
};

function encodeAll(dir: string, image: SyntheticImage): Encoded[] {
  const raw = join(dir, 'source.raw');
  const pgm = join(dir, 'source.pgm');
  const source = join(dir, 'uncompressed.dcm');
  writeFileSync(raw, toLittleEndian(image));
  writeFileSync(pgm, toPgm(image));
  writeFileSync(join(dir, 'source.dump'), dumpFile(raw));
  run('dump2dcm', [join(dir, 'source.dump'), source]);
  const file = (key: Encoded['key']): string => join(dir, `${key}.dcm`);
  run('dcmcjpeg', ['+e1', source, file('jpeg-lossless')]);
  run('gdcmconv', ['--j2k', source, file('jpeg2000')]);
  const codestream = join(dir, 'htj2k.j2c');
  run('ojph_compress', ['-i', pgm, '-o', codestream, '-reversible', 'true', '-num_decomps', '5']);
  run(PYTHON, [join(HERE, 'wrap-htj2k.py'), source, codestream, file('htj2k'), HTJ2K_LOSSLESS]);
  return [
    { key: 'uncompressed', label: 'Explicit VR LE (uncompressed)', file: source },
    { key: 'jpeg-lossless', label: 'JPEG lossless SV1 (dcmcjpeg +e1)', file: file('jpeg-lossless') },
    { key: 'jpeg2000', label: 'JPEG 2000 lossless (gdcmconv --j2k)', file: file('jpeg2000') },
    { key: 'htj2k', label: 'HTJ2K lossless (ojph_compress)', file: file('htj2k'), codestream },
  ];
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkExact(radiograph: Radiograph, image: SyntheticImage, what: string): void {
  if (radiograph.rows !== image.rows || radiograph.columns !== image.columns) {
    throw new Error(
      `${what}: decoded ${radiograph.columns} x ${radiograph.rows}, expected ${image.columns} x ${image.rows}`,
    );
  }
  for (let i = 0; i < image.values.length; i++) {
    if (radiograph.pixels[i] !== image.values[i])
      throw new Error(`${what}: pixel ${i} is ${radiograph.pixels[i]}, source ${image.values[i]}`);
  }
}

/** A native tool's output ends with the decoded pixels (DICOM Pixel Data value, PGM raster): compare that. */
function outputEndsWith(output: string, expected: Uint8Array): boolean {
  const bytes = readFileSync(output);
  return (
    bytes.length >= expected.length && Buffer.compare(bytes.subarray(bytes.length - expected.length), expected) === 0
  );
}

/** Mean and largest |difference| from the model input made from the full-resolution decode; checks size and range. */
function inputDifference(input: ModelInput, reference: ModelInput, side: number): { mean: number; max: number } {
  if (input.data.length !== side * side)
    throw new Error(`model input has ${input.data.length} values, expected ${side * side}`);
  let max = 0;
  let sum = 0;
  input.data.forEach((value, i) => {
    if (!(value >= -1024 && value <= 1024))
      throw new Error(`model input value ${value} at ${i} is outside [-1024, 1024]`);
    sum += Math.abs(value - reference.data[i]);
    max = Math.max(max, Math.abs(value - reference.data[i]));
  });
  return { mean: round(sum / input.data.length), max: round(max) };
}

/** decodeRadiograph's steps for a DICOM file, each timed within one sequential pass. */
async function profileStages(bytes: Uint8Array): Promise<Record<string, number>> {
  const { stages } = await time(async (mark) => {
    const dataSet = await parseDataSet(bytes);
    const description = readPixelDescription(dataSet);
    const syntax = findTransferSyntax(dataSet.string('x00020010')?.replace(/\0/g, '').trim() ?? '1.2.840.10008.1.2');
    if (!syntax) throw new Error('unknown transfer syntax');
    const element = pixelDataElement(dataSet);
    const frame = syntax.encapsulated
      ? firstEncapsulatedFrame(dataSet, element, syntax, description)
      : firstNativeFrame(dataSet, element, description);
    mark('parse');
    const decoded = await FRAME_DECODERS[syntax.codec]({ bytes: frame, description, bigEndian: syntax.bigEndian });
    mark('decode');
    const image = toModality(decoded, description);
    mark('modality');
    const voiLut = readVoiLut(dataSet, description.signed);
    const window =
      readDicomWindow(dataSet) ??
      (voiLut ? lutWindow(voiLut) : automaticWindow(image.pixels, image.padding, image.range));
    mark('window');
    if (window.source !== 'automatic') throw new Error('expected the automatic window');
  });
  return Object.fromEntries(Object.entries(stages).map(([stage, timing]) => [stage, timing.median]));
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** A native tool's full decode; baseline = the same tool's no-op run (start-up cost). */
type Native = { tool: string; timing: Timing; baseline: Timing; outputMatches: boolean };
/** Medians of readRadiograph(file, { minShortSide: side }), preprocess and both; difference from the full-resolution path. */
type ToInput = {
  side: number;
  read: number;
  preprocess: number;
  total: number;
  decoded: string;
  difference: { mean: number; max: number };
};

type FileResult = Awaited<ReturnType<typeof measure>>;

/** The fastest native full decode of a file: whole process, and minus its start-up. */
function fastestNative(native: Native[]): { tool: string; median: number; corrected: number } | null {
  const best = [...native].sort((a, b) => a.timing.median - b.timing.median)[0];
  return best
    ? { tool: best.tool, median: best.timing.median, corrected: round(best.timing.median - best.baseline.median) }
    : null;
}

async function measure(encoded: Encoded, image: SyntheticImage, dir: string, baselines: Map<string, Timing>) {
  const bytes = new Uint8Array(readFileSync(encoded.file));
  const decode = await time(() => decodeRadiograph(encoded.file, bytes));
  checkExact(decode.result, image, encoded.label);

  const reduced: { minShortSide: number; level: number; rows: number; columns: number; timing: Timing }[] = [];
  const toInput: ToInput[] = [];
  for (const side of SIDES) {
    if (encoded.key === 'jpeg2000' || encoded.key === 'htj2k') {
      const r = await time(() => decodeRadiograph(encoded.file, bytes, { minShortSide: side }));
      const { rows, columns, resolution } = r.result;
      if (!resolution || Math.min(rows, columns) < side)
        throw new Error(`${encoded.label}: reduced decode to ${columns} x ${rows}`);
      reduced.push({ minShortSide: side, level: resolution.level, rows, columns, timing: r.timing });
    }
    const spec = sideSpec(side);
    const { stages, result } = await time(async (mark) => {
      const radiograph = await readRadiograph(encoded.file, { minShortSide: side });
      mark('read');
      const input = preprocess(radiograph, spec);
      mark('preprocess');
      return { radiograph, input };
    });
    const decoded = `${result.radiograph.columns}x${result.radiograph.rows}`;
    const difference = inputDifference(result.input, preprocess(decode.result, spec), side);
    toInput.push({
      side,
      read: stages.read.median,
      preprocess: stages.preprocess.median,
      total: stages.total.median,
      decoded,
      difference,
    });
  }

  const native: Native[] = [];
  const timeNative = async (tool: string, args: string[], out: string, expected: Uint8Array): Promise<void> => {
    const timing = await timeProcess(tool, args);
    native.push({
      tool,
      timing,
      baseline: baselines.get(tool) as Timing,
      outputMatches: outputEndsWith(out, expected),
    });
  };
  const out = join(dir, `${encoded.key}.out`);
  if (encoded.key === 'jpeg-lossless') await timeNative('dcmdjpeg', [encoded.file, out], out, toLittleEndian(image));
  if (encoded.key === 'jpeg-lossless' || encoded.key === 'jpeg2000')
    await timeNative('gdcmconv', ['--raw', encoded.file, out], out, toLittleEndian(image));
  if (encoded.codestream)
    await timeNative('ojph_expand', ['-i', encoded.codestream, '-o', `${out}.pgm`], `${out}.pgm`, toPgm(image));
  const fastest = fastestNative(native);
  return {
    key: encoded.key,
    label: encoded.label,
    bytes: statSync(encoded.file).size,
    transferSyntax: decode.result.transferSyntax?.uid ?? '',
    decode: decode.timing,
    reduced,
    toInput,
    native,
    fastestNative: fastest,
    /** The goal: file to model input (224 and 512) below the native tool's full decode. */
    belowNative: fastest ? toInput.every((x) => x.total < fastest.median) : null,
    profile: await profileStages(bytes),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (ms: number | undefined): string => (ms === undefined ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const ratio = (a: number, b: number | undefined): string => (b !== undefined && b > 0 ? (a / b).toFixed(2) : '-');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function report(results: FileResult[], baselines: Map<string, Timing>): void {
  const uncompressed = results[0].bytes;
  console.log('\n## Decode times (ms, median; "ours" = decodeRadiograph from the bytes in memory)');
  const rows = results.flatMap((r) => {
    const reduced = (side: number): string => {
      const x = r.reduced.find((d) => d.minShortSide === side);
      return x ? `${fmt(x.timing.median)} (L${x.level} ${x.columns}x${x.rows})` : '-';
    };
    const ours = [
      r.label,
      `${(r.bytes / 2 ** 20).toFixed(2)} MiB (${round(uncompressed / r.bytes)}:1)`,
      fmt(r.decode.median),
      fmt(r.decode.first),
      reduced(512),
      reduced(224),
    ];
    const natives = r.native.map((n) => {
      const corrected = n.timing.median - n.baseline.median;
      return [
        n.tool,
        fmt(n.timing.median),
        fmt(corrected),
        ratio(r.decode.median, n.timing.median),
        ratio(r.decode.median, corrected),
      ];
    });
    if (natives.length === 0) return [[...ours, '-', '-', '-', '-', '-']];
    return natives.map((n, i) => [...(i === 0 ? ours : ours.map(() => '')), ...n]);
  });
  const header = [
    'format',
    'file size',
    'ours',
    '1st run',
    'ours minShortSide 512',
    'ours minShortSide 224',
    'native tool',
    'native',
  ];
  console.log(table([...header, 'native-startup', 'ours/native', 'ours/(n-s)'], rows));
  console.log(
    '1st run = the warm-up call (includes instantiating the WASM codec for JPEG 2000 / HTJ2K); native = wall time of the whole ' +
      'process (start, decode, write the output file); native-startup = native minus the no-op run of the same tool; ours/(n-s) = ours / (native-startup)',
  );
  const baselineText = [...baselines.entries()].map(([tool, t]) => `${tool} ${fmt(t.median)}`).join(', ');
  console.log(
    `start-up baseline (no-op run: dcmdjpeg --version, gdcmconv --version, ojph_expand without arguments): ${baselineText} ms`,
  );
  const mismatched = results.flatMap((r) =>
    r.native.filter((n) => !n.outputMatches).map((n) => `${r.label} / ${n.tool}`),
  );
  console.log(
    mismatched.length === 0
      ? 'native outputs checked: every native output equals the source pixels'
      : `WARNING native output differs from the source: ${mismatched.join('; ')}`,
  );

  console.log(
    '\n## File to model input (ms, median): readRadiograph(file, { minShortSide: N }) + preprocess to 1 x N x N ' +
      '(display, center-square, area, xrv), against the fastest native full-resolution decode of the same file',
  );
  const inputRows = results.map((r) => {
    const native = r.fastestNative;
    const cells = (x: ToInput): string[] => [
      `${fmt(x.read)} + ${fmt(x.preprocess)} = ${fmt(x.total)}`,
      ratio(x.total, native?.median),
      ratio(x.total, native?.corrected),
    ];
    const [s512, s224] = SIDES.map((side) => r.toInput.find((x) => x.side === side) as ToInput);
    return [
      r.label,
      ...cells(s224),
      ...cells(s512),
      native ? `${native.tool} ${fmt(native.median)} (${fmt(native.corrected)})` : '-',
    ];
  });
  const inputHeader = [
    'format',
    '224: read + prep = total',
    '/native',
    '/(n-s)',
    '512: read + prep = total',
    '/native',
    '/(n-s)',
  ];
  console.log(table([...inputHeader, 'native full decode (minus start-up)'], inputRows));
  const missed = results.filter((r) => r.belowNative === false).map((r) => r.key);
  console.log(
    missed.length === 0
      ? "goal met: every file's time to the model input (224 and 512) is below its native tool's full decode (whole process)"
      : `goal NOT met: file to model input is not below the native tool's full decode for ${missed.join(', ')}`,
  );
  const differences = results.flatMap((r) =>
    r.toInput.map((x) => `${r.key} ${x.side} ${x.difference.mean}/${x.difference.max} (decoded ${x.decoded})`),
  );
  console.log(
    `model input vs the one made from the full-resolution decode, mean/max |difference| (xrv units, +-1024): ${differences.join('; ')}`,
  );

  console.log(
    '\n## Where our full-resolution time goes (ms, medians; stages timed within one sequential pass, as decodeRadiograph runs them)',
  );
  const stages = ['parse', 'decode', 'modality', 'window', 'total'];
  const stageRows = results.map((r) => [r.key, ...stages.map((s) => fmt(r.profile[s])), fmt(r.decode.median)]);
  console.log(table(['file', 'parse', 'decode', 'modality', 'window', 'staged total', 'decodeRadiograph'], stageRows));
  console.log(
    'parse = parse the data set, read the pixel attributes, locate the frame; window = VOI attributes and the automatic window',
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'cxr-decode-bench-'));
  try {
    console.log('# Decode benchmark');
    console.log(
      `machine: ${cpuModel()}, ${availableParallelism()} cores; Node ${process.version}; ${new Date().toISOString()}`,
    );
    const codecs = ['dicom-parser', '@cornerstonejs/codec-openjpeg', '@cornerstonejs/codec-openjph'];
    console.log(
      `tools: dcmtk ${debVersion('dcmtk')}, gdcm ${debVersion('libgdcm-tools')}, openjph ${debVersion('openjph-tools')}; ` +
        `codecs: ${codecs.map((c) => `${c} ${npmVersion(c)}`).join(', ')}`,
    );
    console.log(
      `image: ${ROWS} rows x ${COLUMNS} columns, 12-bit MONOCHROME2 DX (synthetic chest); runs: median of ${RUNS} after 1 warm-up`,
    );

    const image = syntheticChest(ROWS, COLUMNS);
    const files = encodeAll(dir, image);
    console.log(`setup: image generated and encoded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // Start-up cost of each native tool: a run that decodes nothing.
    const baselines = new Map<string, Timing>();
    const noop: [string, string[]][] = [
      ['dcmdjpeg', ['--version']],
      ['gdcmconv', ['--version']],
      ['ojph_expand', []],
    ];
    for (const [tool, args] of noop) baselines.set(tool, await timeProcess(tool, args, true));

    // V8 optimises the per-pixel loops only after some calls: warm them up so the first file measured is not penalised.
    for (let i = 0; i < 15; i++) await readRadiograph(files[0].file);

    const results: FileResult[] = [];
    for (const encoded of files) {
      results.push(await measure(encoded, image, dir, baselines));
      console.log(
        `checked: ${encoded.label} decodes bit-exact to the source (${results[results.length - 1].transferSyntax})`,
      );
    }
    report(results, baselines);

    const total = (performance.now() - started) / 1000;
    console.log(`\ntotal bench time ${total.toFixed(1)} s`);
    const machine = {
      cpu: cpuModel(),
      cores: availableParallelism(),
      node: process.version,
      date: new Date().toISOString(),
    };
    const size = { rows: ROWS, columns: COLUMNS, bitsStored: 12 };
    console.log(
      `JSON ${JSON.stringify({ machine, image: size, runs: RUNS, baselines: Object.fromEntries(baselines), files: results, totalSeconds: Math.round(total * 10) / 10 })}`,
    );
  } finally {
    if (process.env.BENCH_KEEP) console.log(`scratch kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
