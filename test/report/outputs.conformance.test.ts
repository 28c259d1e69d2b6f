/**
 * The result objects of `triage scan --dicom-out` against independent readers: dciodvfy and
 * dcentvfy (dicom3tools), dsrdump, dcmdump and dcmj2pnm (dcmtk). Over phantoms from
 * `triage phantom --format dicom` with the demonstration pack (positive findings present), a
 * phantom turned half round (rejected by the pack's gate), a PNG (no objects) and hostile sources.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { colour } from '../../main/common/index.js';
import type { AnalysisResult } from '../../main/domain/index.js';
import { Engine } from '../../main/engine/index.js';
import type { FindingHeatmaps } from '../../main/engine/index.js';
import { TriageError } from '../../main/errors/index.js';
import { encodePhantomDicom, encodePhantomPng, generatePhantom } from '../../main/phantom/index.js';
import { DEFAULT_PACK } from '../../main/packs/index.js';
import { BAND_RGB, buildResultObjects, captureLayout } from '../../main/report/index.js';
import { triage } from '../support/cli.js';
import { scratchDir, tool } from '../support/tools.js';

const scratch = scratchDir('report-outputs');
after(() => scratch.remove());
const input = join(scratch.path, 'in');
const out = join(scratch.path, 'dicom-out');
const phantoms = join(input, 'phantoms');

interface Stored {
  file: string;
  status: string;
  sopInstanceUID: string | null;
  findings: Array<{
    term: string;
    cui: string | null;
    positive: boolean;
    assessed: boolean;
    votes: { positive: number; total: number };
    probability: { ensemble: number } | null;
  }>;
  models: Array<{ id: string; sha256: string }>;
}
let results: Stored[] = [];
let summary: { dicomOut: { images: number; files: number; notDicom: number; failed: number } };
const analyses = new Map<string, { result: AnalysisResult; heatmaps: Map<string, FindingHeatmaps> }>();

/** Output files by the source SOP Instance UID they refer to (dcmdump's (0008,1155)). */
function outputsOf(sop: string): { sr: string; sc: string } {
  const found: Record<string, string> = {};
  for (const study of readdirSync(out)) {
    for (const name of readdirSync(join(out, study))) {
      const path = join(out, study, name);
      const dump = tool('dcmdump', ['-q', '+P', '0008,0016', '+P', '0008,1155', path]);
      if (!dump.includes(`[${sop}]`)) continue;
      found[dump.includes('SecondaryCapture') ? 'sc' : 'sr'] = path;
    }
  }
  assert.ok(found.sr && found.sc, `an SR and an SC refer to ${sop}`);
  return { sr: found.sr, sc: found.sc };
}

before(async () => {
  const made = triage([
    'phantom',
    '--format',
    'dicom',
    '--count',
    '3',
    '--seed',
    '20261126',
    '--size',
    '288',
    '--out',
    phantoms,
  ]);
  assert.equal(made.status, 0, made.stderr);
  // The masks are PNGs of their own: only the radiographs and one PNG image are scanned.
  rmSync(join(phantoms, 'masks'), { recursive: true });
  const turned = generatePhantom(20261126, 1, { size: 288 });
  turned.stored.reverse();
  turned.study = {
    ...turned.study,
    sopInstanceUID: '2.25.1234567890123456789',
    seriesInstanceUID: '2.25.1234567890123456790',
  };
  writeFileSync(join(input, 'turned.dcm'), encodePhantomDicom(turned));
  writeFileSync(join(input, 'plain.png'), encodePhantomPng(generatePhantom(20261126, 2, { format: 'png', size: 288 })));
  const db = join(scratch.path, 'results.db');
  const exported = join(scratch.path, 'results.ndjson');
  const scan = triage(['scan', input, '--db', db, '--dicom-out', out, '--out', exported, '--ep', 'cpu']);
  assert.equal(scan.status, 0, scan.stderr);
  summary = (JSON.parse(scan.stdout.trim().split('\n').at(-1)!) as { summary: typeof summary }).summary;
  results = readFileSync(exported, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Stored);
  const files = results.filter((r) => r.file.endsWith('.dcm')).map((r) => r.file);
  const engine = await Engine.create({ models: DEFAULT_PACK, provider: 'cpu', threads: 1 });
  try {
    for await (const analysis of engine.analyze(files, { heatmaps: true }))
      analyses.set(analysis.result.file, analysis);
  } finally {
    await engine.close();
  }
});

const dicomResults = () => results.filter((r) => r.file.endsWith('.dcm'));

test('the scan writes an SR and an SC for every DICOM image analysed or rejected, and none for the PNG', () => {
  assert.deepEqual(
    dicomResults()
      .map((r) => r.status)
      .sort(),
    ['ok', 'ok', 'ok', 'rejected'],
  );
  assert.ok(results.some((r) => r.file.endsWith('.png') && r.status === 'ok'));
  assert.equal(summary.dicomOut.images, 4);
  assert.equal(summary.dicomOut.files, 8);
  assert.equal(summary.dicomOut.notDicom, 1);
  assert.equal(summary.dicomOut.failed, 0);
  assert.ok(dicomResults().some((r) => r.findings.some((f) => f.positive && f.assessed && f.votes.positive > 0)));
});

test('every SR and SC passes dciodvfy without errors, and dcentvfy finds them consistent with their source', () => {
  for (const result of dicomResults()) {
    const { sr, sc } = outputsOf(result.sopInstanceUID!);
    for (const file of [sr, sc]) {
      const report = tool('dciodvfy', [file]).concat(toolStderr('dciodvfy', [file]));
      const errors = report.split('\n').filter((line) => /^(Error|Abort)/.test(line));
      assert.deepEqual(errors, [], `${file}:\n${report}`);
      // The only warnings: the private coding scheme dicom3tools does not know (docs/dicom-outputs.md).
      for (const line of report.split('\n').filter((l) => l.startsWith('Warning'))) {
        assert.match(line, /Unrecognized defined term <99CXRTRIAGE>/);
      }
    }
    const consistency = toolStderr('dcentvfy', [result.file, sr, sc]);
    const problems = consistency.split('\n').filter((line) => /^(Error|Abort)/.test(line));
    assert.deepEqual(problems, [], consistency);
  }
});

/** A dicom3tools program's report (it writes to stderr). */
function toolStderr(name: string, args: string[]): string {
  const run = spawnSync(name, args, { encoding: 'latin1' });
  assert.ok(run.error === undefined, `${name} runs`);
  return `${run.stdout}${run.stderr}`;
}

test('dsrdump shows each assessed finding with its CUI, its stored ensemble probability, its votes and every model hash', () => {
  for (const result of dicomResults().filter((r) => r.status === 'ok')) {
    const dump = tool('dsrdump', ['+Pl', outputsOf(result.sopInstanceUID!).sr]);
    const groups = dump.split('"Measurement Group")').slice(1);
    const assessed = result.findings.filter((f) => f.assessed);
    assert.equal(groups.length, assessed.length);
    for (const finding of assessed) {
      const group = groups.find((g) => g.includes(`"Tracking Identifier")="${finding.term}"`));
      assert.ok(group, `a group for ${finding.term}`);
      if (finding.cui) assert.ok(group.includes(`(${finding.cui},UMLS,"${finding.term}")`), group);
      if (finding.probability) {
        const number = /"Certainty of Finding"\)="([^"]+)" \(%,UCUM,"%"\)/.exec(group);
        assert.ok(number, group);
        assert.ok(
          Math.abs(Number(number[1]) - finding.probability.ensemble * 100) < 1e-6,
          `${finding.term}: ${number[1]}`,
        );
      }
      assert.ok(group.includes(`"Votes")="${finding.votes.positive} of ${finding.votes.total}"`), group);
      const call = finding.positive
        ? /"AI call"\)=\((10828004|82334004),SCT/
        : /"AI call"\)=\((260385009|82334004),SCT/;
      assert.match(group, call);
    }
    for (const model of result.models) assert.ok(dump.includes(model.sha256), `${model.id}'s SHA-256`);
    assert.ok(dump.includes('NOT FOR CLINICAL USE'));
    assert.match(dump, /Series\s+: AI report - NOT FOR CLINICAL USE/);
  }
  const rejected = dicomResults().find((r) => r.status === 'rejected')!;
  const dump = tool('dsrdump', ['+Pl', outputsOf(rejected.sopInstanceUID!).sr]);
  assert.ok(!dump.includes('"Measurement Group"'));
  assert.match(dump, /"Not assessed"\)="Not assessed: .*feature distance/);
  assert.match(dump, /"Image gate check"\)="feature-distance: score [\d.]+, accepted range/);
});

const PATIENT_STUDY = [
  '0010,0010',
  '0010,0020',
  '0010,0030',
  '0010,0040',
  '0010,1010',
  '0020,000d',
  '0008,0020',
  '0008,0030',
  '0008,0090',
  '0020,0010',
  '0008,0050',
  '0008,1030',
];

/** The top-level Patient and Study attributes, as dcmdump prints them (nested ones are indented). */
function attributes(file: string): string[] {
  return tool('dcmdump', ['-q', file])
    .split('\n')
    .filter((line) => PATIENT_STUDY.some((tag) => line.startsWith(`(${tag})`)))
    .map((line) => line.replace(/#.*$/, '').trim())
    .sort();
}

test('Patient and Study attributes equal the source, read by dcmdump; the series is new', () => {
  for (const result of dicomResults()) {
    const { sr, sc } = outputsOf(result.sopInstanceUID!);
    const source = attributes(result.file);
    assert.ok(source.length >= 10);
    assert.deepEqual(attributes(sr), source);
    assert.deepEqual(attributes(sc), source);
    const series = (file: string) => tool('dcmdump', ['-q', '+P', '0020,000e', file]);
    assert.notEqual(series(sr), series(result.file));
    assert.notEqual(series(sc), series(sr));
  }
});

/** dcmj2pnm's PPM of an SC: the independent decoding of its pixels. */
function decodeSc(file: string): { width: number; height: number; rgb: Uint8Array } {
  const ppm = join(scratch.path, 'sc.ppm');
  tool('dcmj2pnm', ['--write-raw-pnm', file, ppm]);
  const bytes = readFileSync(ppm);
  const text = bytes.subarray(0, 64).toString('latin1');
  const match = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(text)!;
  return { width: Number(match[1]), height: Number(match[2]), rgb: bytes.subarray(match[0].length) };
}

test('the SC decodes with the heatmap colours where the positive finding is hot, grey where none is, and the band', () => {
  let checked = 0;
  for (const result of dicomResults().filter((r) => r.status === 'ok')) {
    const analysis = analyses.get(result.file)!;
    const { width, height, rgb } = decodeSc(outputsOf(result.sopInstanceUID!).sc);
    const size = imageSize(analysis);
    const layout = captureLayout(size.rows, size.columns, analysis.result);
    assert.equal(width, layout.width);
    assert.equal(height, layout.height);
    const at = (x: number, y: number) => Array.from(rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    // The band: NOT FOR CLINICAL USE in white on red across the top.
    assert.ok(layout.bandHeight > 0);
    assert.deepEqual(at(1, 1), [...BAND_RGB]);
    const bandPixels = Array.from({ length: width * layout.bandHeight }, (_, i) =>
      at(i % width, Math.floor(i / width)),
    );
    assert.ok(
      bandPixels.some((p) => p.every((v) => v === 255)),
      'white text in the band',
    );
    const maps = [...analysis.heatmaps.values()].map((m) => m.ensemble);
    if (maps.length === 0) continue;
    const map = maps[0];
    let peak = 0;
    for (let i = 1; i < map.data.length; i++) if (map.data[i] > map.data[peak]) peak = i;
    const px = Math.floor(((peak % map.columns) + 0.5) * map.scale);
    const py = Math.floor((Math.floor(peak / map.columns) + 0.5) * map.scale);
    const hot = at(px, layout.image.top + py);
    const [r, g, b] = colour(1);
    assert.ok(r - b > 40 && g - b > 40, `at the peak: ${hot} leans towards ${[r, g, b]}`);
    assert.ok(hot[0] - hot[2] > 30, `at the peak ${hot} is coloured`);
    let cold = -1;
    for (let i = 0; i < map.data.length && cold < 0; i++) {
      if (maps.every((m) => m.data[i] === 0)) cold = i;
    }
    if (cold >= 0) {
      const cx = Math.floor(((cold % map.columns) + 0.5) * map.scale);
      const cy = Math.floor((Math.floor(cold / map.columns) + 0.5) * map.scale);
      const grey = at(cx, layout.image.top + cy);
      assert.ok(grey[0] === grey[1] && grey[1] === grey[2], `where no map is, grey: ${grey}`);
    }
    checked++;
  }
  assert.ok(checked > 0, 'a positive finding with a heatmap was checked');
});

function imageSize(analysis: { result: AnalysisResult }): { rows: number; columns: number } {
  const phantom = JSON.parse(readFileSync(join(phantoms, 'phantoms.json'), 'utf8')) as {
    images: Array<{ file: string; rows: number; columns: number }>;
  };
  const entry = phantom.images.find((image) => analysis.result.file.endsWith(image.file));
  assert.ok(entry, analysis.result.file);
  return entry;
}

test('building again gives the same SOP Instance UIDs (a PACS deduplicates a re-send)', async () => {
  const [file, analysis] = [...analyses.entries()].find(([, a]) => a.result.status === 'ok')!;
  const first = await buildResultObjects(analysis);
  const second = await buildResultObjects(analysis);
  assert.equal(first!.sr.sopInstanceUID, second!.sr.sopInstanceUID);
  assert.equal(first!.sc!.sopInstanceUID, second!.sc!.sopInstanceUID);
  assert.notEqual(first!.sr.sopInstanceUID, first!.sc!.sopInstanceUID);
  assert.ok(
    outputsOf(results.find((r) => r.file === file)!.sopInstanceUID!).sr.endsWith(`${first!.sr.sopInstanceUID}.dcm`),
  );
});

test('a hostile source (truncated header, a huge element length) is a coded error, not a crash', async () => {
  const analysis = [...analyses.values()].find((a) => a.result.status === 'ok')!;
  const good = readFileSync(analysis.result.file);
  const truncated = join(scratch.path, 'truncated.dcm');
  writeFileSync(truncated, good.subarray(0, 400));
  const huge = join(scratch.path, 'huge.dcm');
  const bytes = Buffer.from(good);
  // The first element after the meta group gets a 32-bit length far past the file's end.
  const groupLength = bytes.readUInt32LE(140);
  const first = 144 + groupLength;
  bytes.writeUInt16LE(0x0008, first);
  bytes.writeUInt16LE(0x0005, first + 2);
  bytes.write('UT', first + 4, 'latin1');
  bytes.writeUInt16LE(0, first + 6);
  bytes.writeUInt32LE(0xfffffff0, first + 8);
  writeFileSync(huge, bytes);
  for (const file of [truncated, huge]) {
    await assert.rejects(
      buildResultObjects({ ...analysis, result: { ...analysis.result, file, sopInstanceUID: null } }),
      (error: unknown) => error instanceof TriageError && ['TRUNCATED', 'MALFORMED', 'TOO_LARGE'].includes(error.code),
    );
  }
});
