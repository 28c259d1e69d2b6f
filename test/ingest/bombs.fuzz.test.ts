/**
 * The red team's hostile files at full size, each through `triage decode` as a user runs it (the
 * built CLI in a process of its own): every one ends in a coded JSON error, never a V8 abort or
 * uncoded output, within the ingest's budget of 1 GB resident memory (the process's peak RSS,
 * measured by the process itself). A scan of a folder holding two bombs and a healthy radiograph
 * analyses the healthy one. The figures (time, peak RSS) are printed with each case.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import {
  element,
  fileMeta,
  imageAttributes,
  ITEM,
  itemTag,
  nativePixels,
  pngWithHeader,
  SEQUENCE_END,
  SYNTAX,
  UNDEFINED,
  writeDeflatedBomb,
} from '../support/hostile.js';
import { OUT_OF_DISTRIBUTION_REASON } from '../../main/common/index.js';
import { scratchDir } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const CLI = pathToFileURL(join(ROOT, 'dist', 'main', 'cli', 'main.js')).href;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** The budget: a hostile file ends within this much resident memory (the whole process). */
const RSS_BUDGET = 1 * GiB;
const scratch = scratchDir('bombs');
after(() => scratch.remove());

/** Runs `triage ARGS` in-process in a child of its own, reporting its exit code and peak RSS. */
function triage(args: string[]): {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  peakRss: number;
} {
  const runner = join(scratch.path, 'runner.mjs');
  writeFileSync(
    runner,
    `const { main } = await import(${JSON.stringify(CLI)});
const code = await main(process.argv.slice(2));
process.stderr.write('\\n' + JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024 }) + '\\n');
process.exit(code);
`,
  );
  const started = performance.now();
  const result = spawnSync(process.execPath, [runner, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TRIAGE_LOG: 'error' },
    maxBuffer: 64 * MiB,
  });
  const seconds = (performance.now() - started) / 1000;
  const last = result.stderr.trim().split('\n').pop() ?? '';
  const peakRss = last.startsWith('{"peakRss"') ? (JSON.parse(last) as { peakRss: number }).peakRss : NaN;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, seconds, peakRss };
}

/** `triage decode FILE` ends with this coded error, within the memory budget. */
function refusedWithin(name: string, file: string, code: string): void {
  const run = triage(['decode', file]);
  const lines = run.stderr.trim().split('\n');
  const error = lines.map((line) => (line.startsWith('{"error"') ? JSON.parse(line) : null)).find(Boolean) as {
    error: { code: string; message: string };
  } | null;
  console.log(
    `# ${name}: ${error?.error.code ?? `exit ${run.status}`} in ${run.seconds.toFixed(2)} s, peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`,
  );
  assert.equal(run.status, 2, `${name}: a coded error, exit 2 (stderr: ${run.stderr.slice(0, 500)})`);
  assert.ok(error, `${name}: the error is one JSON object on stderr`);
  assert.equal(error.error.code, code, error.error.message);
  assert.doesNotMatch(run.stderr, /\n\s+at |FATAL ERROR|Aborted/, `${name}: no stack, no V8 abort`);
  assert.ok(run.peakRss < RSS_BUDGET, `${name}: peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`);
}

const bombs: Record<string, string> = {};
before(async () => {
  // A 1 MB deflated data set that inflates to 1 GiB (a private OB element of zeros).
  bombs.inflation = join(scratch.path, 'inflation.dcm');
  await writeDeflatedBomb(
    bombs.inflation,
    element(0x00091010, 'OB', new Uint8Array(0), GiB),
    Buffer.alloc(64 * 1024),
    GiB / (64 * 1024),
    Buffer.concat([imageAttributes(8, 8), nativePixels(8, 8)]),
  );
  // 100 million empty sequence items, deflated (800 MB of items in a file of about a megabyte).
  bombs.items = join(scratch.path, 'items.dcm');
  await writeDeflatedBomb(
    bombs.items,
    element(0x00081110, 'SQ', new Uint8Array(0), UNDEFINED),
    itemTag(ITEM, 0),
    100_000_000,
    Buffer.concat([itemTag(SEQUENCE_END, 0), imageAttributes(8, 8), nativePixels(8, 8)]),
  );
  // 100 million empty pixel data fragments, deflated.
  bombs.fragments = join(scratch.path, 'fragments.dcm');
  await writeDeflatedBomb(
    bombs.fragments,
    Buffer.concat([imageAttributes(8, 8), element(0x7fe00010, 'OB', new Uint8Array(0), UNDEFINED)]),
    itemTag(ITEM, 0),
    100_000_000,
    itemTag(SEQUENCE_END, 0),
  );
  // A PNG declaring 65,535 x 65,535 grey pixels.
  bombs.png = join(scratch.path, 'huge.png');
  writeFileSync(bombs.png, pngWithHeader(65_535, 65_535, deflateRawSync(Buffer.alloc(64 * MiB))));
  // A progressive JPEG with one scan repeated 2,000 times.
  const jpeg = readFileSync(join(FIXTURES, 'jpeg', 'progressive.jpg'));
  const scan = jpeg.subarray(jpeg.lastIndexOf(Buffer.from([0xff, 0xda])), jpeg.length - 2);
  bombs.scans = join(scratch.path, 'scans.jpg');
  writeFileSync(
    bombs.scans,
    Buffer.concat([jpeg.subarray(0, jpeg.length - 2), ...Array.from({ length: 2000 }, () => scan), jpeg.subarray(-2)]),
  );
  // A JPEG 2000 DICOM of about a kilobyte declaring 10,000 x 10,000 (header and codestream alike),
  // and one whose codestream alone says so under a header of the fixture's real size.
  const j2k = readFileSync(join(FIXTURES, 'dicom', 'j2k-lossless.dcm'));
  const codestream = Buffer.from(j2k.subarray(j2k.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]))));
  const siz = 4; // after SOC and the SIZ marker: Lsiz (2), Rsiz (2), Xsiz (4), Ysiz (4)
  const bigCodestream = Buffer.from(codestream.subarray(0, 1024));
  bigCodestream.writeUInt32BE(10_000, siz + 4);
  bigCodestream.writeUInt32BE(10_000, siz + 8);
  const encapsulated = (rows: number, columns: number) =>
    Buffer.concat([
      fileMeta(SYNTAX.jpeg2000),
      imageAttributes(rows, columns),
      element(0x7fe00010, 'OB', new Uint8Array(0), UNDEFINED),
      itemTag(ITEM, 0),
      itemTag(ITEM, bigCodestream.length),
      bigCodestream,
      itemTag(SEQUENCE_END, 0),
    ]);
  bombs.j2kDeclared = join(scratch.path, 'j2k-declared.dcm');
  writeFileSync(bombs.j2kDeclared, encapsulated(10_000, 10_000));
  bombs.j2kCodestream = join(scratch.path, 'j2k-codestream.dcm');
  writeFileSync(bombs.j2kCodestream, encapsulated(512, 512));
  // A 2 GB video (sparse: no disk used).
  bombs.video = join(scratch.path, 'video.mp4');
  writeFileSync(bombs.video, Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1'));
  truncateSync(bombs.video, 2 * GiB);
});

describe('hostile files through triage decode: a coded error within 1 GB', { timeout: 10 * 60_000 }, () => {
  test('the baseline: a healthy radiograph decodes (the cost of the command itself)', () => {
    const run = triage(['decode', join(FIXTURES, 'dicom', 'j2k-lossless.dcm')]);
    console.log(
      `# healthy JPEG 2000 radiograph: decoded in ${run.seconds.toFixed(2)} s, peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as { rows: number }).rows > 0);
  });
  test('a 1 MB deflated data set that inflates to 1 GiB', () =>
    refusedWithin('1 GiB inflation', bombs.inflation, 'TOO_LARGE'));
  test('100 million empty sequence items, deflated', () => refusedWithin('100 M items', bombs.items, 'TOO_LARGE'));
  test('100 million empty pixel fragments, deflated', () =>
    refusedWithin('100 M fragments', bombs.fragments, 'TOO_LARGE'));
  test('a 65,535 x 65,535 PNG', () => refusedWithin('65,535^2 PNG', bombs.png, 'TOO_LARGE'));
  test('a progressive JPEG with one scan repeated 2,000 times', () =>
    refusedWithin('2,000 JPEG scans', bombs.scans, 'TOO_LARGE'));
  test('a 1 KB JPEG 2000 declaring 10,000 x 10,000', () =>
    refusedWithin('10,000^2 J2K', bombs.j2kDeclared, 'TOO_LARGE'));
  test('a JPEG 2000 codestream of 10,000 x 10,000 under a 512 x 512 header', () =>
    refusedWithin('10,000^2 codestream', bombs.j2kCodestream, 'INVALID_ATTRIBUTE'));
  test('a 2 GB video', () => refusedWithin('2 GB video', bombs.video, 'TOO_LARGE'));
});

test(
  'a scan of a folder with two inflation bombs and a radiograph analyses the radiograph, within 1 GB',
  { timeout: 5 * 60_000 },
  () => {
    const folder = join(scratch.path, 'folder');
    mkdirSync(folder);
    copyFileSync(bombs.inflation, join(folder, 'a-bomb.dcm'));
    copyFileSync(bombs.items, join(folder, 'b-bomb.dcm'));
    copyFileSync(join(FIXTURES, 'dicom', 'explicit-le.dcm'), join(folder, 'c-healthy.dcm'));
    const out = join(scratch.path, 'scan.ndjson');
    const run = triage([
      'scan',
      folder,
      '--db',
      join(scratch.path, 'scan.sqlite'),
      '--out',
      out,
      '--format',
      'ndjson',
      '--ep',
      'cpu',
    ]);
    console.log(
      `# scan with two bombs: exit ${run.status} in ${run.seconds.toFixed(2)} s, peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`,
    );
    assert.equal(run.status, 0, run.stderr.slice(0, 1000));
    const results = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { file: string; status: string; reason: string | null; error: { code: string } | null },
      );
    const byName = new Map(results.map((r) => [r.file.split('/').pop(), r]));
    assert.equal(byName.get('a-bomb.dcm')?.error?.code, 'TOO_LARGE');
    assert.equal(byName.get('b-bomb.dcm')?.error?.code, 'TOO_LARGE');
    // Analysed: decoded and run through the models. The default (demonstration) pack's image gate
    // then refuses anything unlike its phantoms, this fixture included; that refusal comes after
    // inference, so it counts.
    const healthy = byName.get('c-healthy.dcm');
    assert.equal(healthy?.error, null, 'the healthy radiograph is no error');
    assert.ok(
      healthy?.status === 'ok' || healthy?.reason?.startsWith(OUT_OF_DISTRIBUTION_REASON),
      `the healthy radiograph is analysed: ${healthy?.status} (${healthy?.reason})`,
    );
    assert.ok(run.peakRss < RSS_BUDGET, `peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB`);
  },
);
