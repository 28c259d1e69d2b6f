/** `triage phantom` through the real binary: the files it writes, the summary, determinism across threads, coded errors. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decode as decodePng } from 'fast-png';
import { triage } from '../support/cli.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('cli-phantom');
after(() => scratch.remove());

const TERMS = ['cardiomegaly', 'pleural effusion', 'pneumothorax', 'nodule', 'mass', 'consolidation', 'atelectasis'];

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

test('phantom writes images, masks, labels.csv and phantoms.json and prints a JSON summary', () => {
  const out = join(scratch.path, 'set');
  const result = triage(['phantom', '--count', '10', '--seed', '42', '--out', out, '--size', '200']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object');
  const summary = JSON.parse(lines[0]);
  assert.equal(summary.count, 10);
  assert.equal(summary.seed, 42);
  assert.equal(summary.format, 'dicom');
  assert.equal(summary.size, 200);
  assert.equal(typeof summary.elapsedMs, 'number');
  assert.deepEqual(Object.keys(summary.counts), [...TERMS, 'normal']);

  const csv = readFileSync(join(out, 'labels.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], `file,${TERMS.join(',')},normal`);
  assert.equal(csv.length, 11);
  const manifest = JSON.parse(readFileSync(join(out, 'phantoms.json'), 'utf8'));
  assert.equal(manifest.images.length, 10);
  let masks = 0;
  csv.slice(1).forEach((line, index) => {
    const [file, ...flags] = line.split(',');
    assert.equal(file, `phantom-${String(index).padStart(5, '0')}.dcm`);
    assert.equal(readFileSync(join(out, file)).subarray(128, 132).toString('latin1'), 'DICM');
    const entry = manifest.images[index];
    assert.equal(entry.file, file);
    TERMS.forEach((term, k) => {
      assert.equal(Number(flags[k]), entry.labels[term]);
      const maskFile = join(out, 'masks', term.replace(/ /g, '-'), file.replace('.dcm', '.png'));
      const exists = listFiles(out).includes(`masks/${term.replace(/ /g, '-')}/${file.replace('.dcm', '.png')}`);
      assert.equal(exists, flags[k] === '1', `${file} ${term}: a mask exactly when labelled`);
      if (exists) {
        masks++;
        const png = decodePng(readFileSync(maskFile));
        assert.deepEqual([png.width, png.height, png.channels], [entry.columns, entry.rows, 1]);
        assert.ok(
          png.data.some((v) => v === 255) && png.data.every((v) => v === 0 || v === 255),
          'a binary, non-empty mask',
        );
      }
    });
    assert.equal(Number(flags[7]), flags.slice(0, 7).includes('1') ? 0 : 1, 'normal when no finding');
  });
  assert.equal(summary.masks, masks);
});

test('the same seed gives the same bytes whatever the number of worker threads', () => {
  const a = join(scratch.path, 'one');
  const b = join(scratch.path, 'two');
  assert.equal(
    triage(['phantom', '--count', '9', '--seed', '7', '--out', a, '--size', '160', '--jobs', '1', '--format', 'png'])
      .status,
    0,
  );
  assert.equal(
    triage(['phantom', '--count', '9', '--seed', '7', '--out', b, '--size', '160', '--jobs', '3', '--format', 'png'])
      .status,
    0,
  );
  const files = listFiles(a).sort();
  assert.deepEqual(listFiles(b).sort(), files);
  for (const file of files)
    assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} differs`);
  const png = decodePng(readFileSync(join(a, 'phantom-00000.png')));
  assert.ok(png.depth === 8 || png.depth === 16);
  assert.equal(png.channels, 1);
});

const USAGE_CASES: Array<[string, string[]]> = [
  ['no arguments', []],
  ['no --out', ['--count', '3', '--seed', '1']],
  ['no --seed', ['--count', '3', '--out', 'x']],
  ['count 0', ['--count', '0', '--seed', '1', '--out', 'x']],
  ['negative seed', ['--count', '1', '--seed=-4', '--out', 'x']],
  ['fractional seed', ['--count', '1', '--seed', '1.5', '--out', 'x']],
  ['unknown format', ['--count', '1', '--seed', '1', '--out', 'x', '--format', 'jpeg']],
  ['size too small', ['--count', '1', '--seed', '1', '--out', 'x', '--size', '64']],
  ['unknown option', ['--count', '1', '--seed', '1', '--out', 'x', '--colour']],
  ['a positional argument', ['extra', '--count', '1', '--seed', '1', '--out', 'x']],
];

for (const [name, args] of USAGE_CASES) {
  test(`phantom with ${name}: USAGE, exit 2, one JSON error, nothing written`, () => {
    const result = triage(['phantom', ...args], { cwd: scratch.path });
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    const error = JSON.parse(result.stderr.trim());
    assert.equal(error.error.code, 'USAGE');
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(scratch.path, 'x')), false);
  });
}

test('phantom into a folder that cannot be created: OUTPUT_FAILED', () => {
  const file = join(scratch.path, 'a-file');
  writeFileSync(file, 'not a folder');
  const result = triage(['phantom', '--count', '2', '--seed', '1', '--out', join(file, 'set')]);
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assert.equal(JSON.parse(result.stderr.trim()).error.code, 'OUTPUT_FAILED');
});

test('phantom --help describes the command', () => {
  const result = triage(['phantom', '--help']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /triage phantom --count N --seed S --out DIR/);
  assert.match(triage(['--help']).stdout, /triage phantom/);
});
