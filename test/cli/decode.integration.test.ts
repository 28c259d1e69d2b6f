/** The `triage decode` contract, through the real binary. */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decode as decodePng } from 'fast-png';
import { triage } from '../support/cli.js';
import { scratchDir } from '../support/tools.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const scratch = scratchDir('cli-decode');
after(() => scratch.remove());

function readSource(name: string): Uint16Array {
  const bytes = readFileSync(join(FIXTURES, 'source', name));
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
}

test('decode prints the contract JSON and writes modality values and a display PNG', () => {
  const modalityOut = join(scratch.path, 'm.f32');
  const displayOut = join(scratch.path, 'd.png');
  const result = triage([
    'decode',
    join(FIXTURES, 'explicit-le.dcm'),
    '--modality-out',
    modalityOut,
    '--display-out',
    displayOut,
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one JSON object');
  const summary = JSON.parse(lines[0]);
  for (const key of [
    'file',
    'rows',
    'columns',
    'transferSyntax',
    'photometric',
    'bitsAllocated',
    'bitsStored',
    'sopInstanceUID',
    'studyInstanceUID',
    'modality',
    'bodyPart',
    'viewPosition',
    'window',
    'decodeMs',
  ]) {
    assert.ok(key in summary, `summary has ${key}`);
  }
  assert.equal(summary.rows, 240);
  assert.equal(summary.columns, 288);
  assert.equal(summary.transferSyntax, '1.2.840.10008.1.2.1');
  assert.equal(summary.photometric, 'MONOCHROME2');
  assert.equal(summary.bitsAllocated, 16);
  assert.equal(summary.bitsStored, 12);
  assert.equal(summary.modality, 'DX');
  assert.equal(summary.bodyPart, 'CHEST');
  assert.equal(summary.viewPosition, 'PA');
  assert.deepEqual([summary.window.center, summary.window.width], [2048, 4096], 'the first of several windows');
  assert.equal(typeof summary.decodeMs, 'number');

  const modality = readFileSync(modalityOut);
  assert.equal(modality.length, 240 * 288 * 4);
  const values = new Float32Array(modality.buffer, modality.byteOffset, modality.length / 4);
  const source = readSource('source-12bit.raw');
  assert.deepEqual([...values.subarray(0, 2000)], [...source.subarray(0, 2000)]);
  assert.ok(
    values.every((v, i) => v === source[i]),
    'every modality value equals the stored source value',
  );

  const png = decodePng(readFileSync(displayOut));
  assert.equal(png.width, 288);
  assert.equal(png.height, 240);
  assert.equal(png.depth, 8);
  assert.equal(png.channels, 1);
});

test('MONOCHROME1 displays bone bright: its display PNG equals the MONOCHROME2 one', () => {
  const m1 = join(scratch.path, 'm1.png');
  const m2 = join(scratch.path, 'm2.png');
  assert.equal(triage(['decode', join(FIXTURES, 'monochrome1.dcm'), '--display-out', m1]).status, 0);
  assert.equal(triage(['decode', join(FIXTURES, 'explicit-le.dcm'), '--display-out', m2]).status, 0);
  const a = decodePng(readFileSync(m1)).data;
  const b = decodePng(readFileSync(m2)).data;
  let maxDifference = 0;
  for (let i = 0; i < a.length; i++) maxDifference = Math.max(maxDifference, Math.abs(a[i] - b[i]));
  assert.ok(maxDifference <= 1, `inverted storage renders like the original (max difference ${maxDifference})`);
});

const ERROR_CASES: Array<[string, string]> = [
  ['not-dicom.bin', 'NOT_DICOM'],
  ['truncated.dcm', 'TRUNCATED'],
  ['unsupported-ts.dcm', 'UNSUPPORTED_TRANSFER_SYNTAX'],
  ['ct-no-pixels.dcm', 'NO_PIXEL_DATA'],
  ['sr.dcm', 'NOT_AN_IMAGE'],
  ['bad-attribute.dcm', 'INVALID_ATTRIBUTE'],
  ['huge-dims.dcm', 'TOO_LARGE'],
];

for (const [name, code] of ERROR_CASES) {
  test(`bad input ${name}: exit 2, one JSON error ${code} on stderr, no stack trace`, () => {
    const file = join(FIXTURES, name);
    const result = triage(['decode', file]);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
    const parsed = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(parsed), ['error']);
    assert.equal(parsed.error.code, code, parsed.error.message);
    assert.equal(parsed.error.file, file);
    assert.ok(parsed.error.message.length > 10);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('a missing file and a bad option are coded errors too', () => {
  const missing = triage(['decode', join(scratch.path, 'nope.dcm')]);
  assert.equal(missing.status, 2);
  assert.equal(JSON.parse(missing.stderr).error.code, 'FILE_NOT_FOUND');
  const option = triage(['decode', '--frobnicate', 'x']);
  assert.equal(option.status, 2);
  assert.equal(JSON.parse(option.stderr.trim().split('\n')[0]).error.code, 'USAGE');
});

test('patient name and ID never reach the output', () => {
  for (const name of ['explicit-le.dcm', 'truncated.dcm', 'jpeg-lossless-sv1.dcm']) {
    const result = triage(['decode', join(FIXTURES, name)], { env: { TRIAGE_DEBUG: '1' } });
    const text = result.stdout + result.stderr;
    assert.doesNotMatch(text, /FIXTURE\^PATIENT|FIX-0001/);
  }
  assert.match(
    readFileSync(join(FIXTURES, 'explicit-le.dcm')).toString('latin1'),
    /FIXTURE\^PATIENT/,
    'the fixture does carry them',
  );
});
