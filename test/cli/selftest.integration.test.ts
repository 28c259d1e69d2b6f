/** `triage selftest`: the installation check hospital IT runs, through the real binary. */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { triage } from '../support/cli.js';
import { writeDiskPng } from '../support/images.js';
import { scratchDir } from '../support/tools.js';

const CAM_PACK = fileURLToPath(new URL('../fixtures/models/cam-pack/', import.meta.url));
/** alpha with its cam output doubled by make-models.py: each map averages to twice the logit. */
const SCALED_CAM_PACK = fileURLToPath(new URL('../fixtures/models/scaled-cam-pack/', import.meta.url));
const OCCLUSION_PACK = fileURLToPath(new URL('../fixtures/models/occlusion-pack/', import.meta.url));
const scratch = scratchDir('selftest');
const samples = join(scratch.path, 'samples');
after(() => scratch.remove());

before(() => {
  mkdirSync(samples);
  const scale = 300 / 64;
  writeDiskPng(join(samples, 'disk.png'), 400, 300, { x: 50 + 44.5 * scale, y: 16.5 * scale, radius: 6 * scale });
  writeDiskPng(join(samples, 'grey.png'), 400, 300, { x: 0, y: 0, radius: 0, background: 128 });
});

function packCopy(name: string, recorded?: Record<string, string[]>): string {
  const dir = join(scratch.path, name);
  cpSync(CAM_PACK, dir, { recursive: true });
  if (recorded) {
    const samplesRecord = Object.fromEntries(
      Object.entries(recorded).map(([file, positives]) => [file, { positives, perModel: {} }]),
    );
    writeFileSync(
      join(dir, 'selftest.json'),
      JSON.stringify({ pack: { id: 'cam-pack', version: '1.0.0' }, samples: samplesRecord }),
    );
  }
  return dir;
}

test('a good pack passes every check, on the CPU here, and reports the providers it could not use', () => {
  const pack = packCopy('good', { 'disk.png': ['finding:nodule'], 'grey.png': [] });
  const result = triage(['selftest', '--models', pack, '--samples', samples, '--ep', 'auto']);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /agrees with the CPU provider\s+PASS/);
  // 3 members x 2 images x 4 labels; torch-reference.json shows the identity holds to float rounding.
  assert.match(result.stdout, /CAM mean equals the logit\s+PASS\s+24 maps \(3 members x 2 images x labels\)/);
  assert.match(result.stdout, /findings as recorded at build time\s+PASS\s+2 of 2 images identical/);
  assert.match(result.stdout, /not available: cuda/);
  assert.match(result.stdout, /SELFTEST PASSED/);
});

test('results that differ from the recorded ones fail, with exit code 1', () => {
  const pack = packCopy('drifted', { 'disk.png': ['finding:cardiomegaly'], 'grey.png': [] });
  const result = triage(['selftest', '--models', pack, '--samples', samples, '--json']);
  assert.equal(result.status, 1);
  const report = JSON.parse(result.stdout);
  assert.equal(report.passed, false);
  const check = report.reports[0].checks.find((c: { name: string }) => c.name === 'findings as recorded at build time');
  assert.equal(check.passed, false);
  assert.match(check.detail, /disk\.png: got \[finding:nodule\], recorded \[finding:cardiomegaly\]/);
});

test('a member whose class activation map does not average to its logit fails the CAM check, with CAM_MISMATCH', () => {
  const result = triage(['selftest', '--models', SCALED_CAM_PACK, '--samples', samples, '--json']);
  assert.equal(result.status, 1, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.passed, false);
  const checks = report.reports[0].checks as Array<{ name: string; passed: boolean; detail: string }>;
  const cam = checks.find((c) => c.name === 'CAM mean equals the logit');
  assert.ok(cam, JSON.stringify(checks));
  assert.equal(cam.passed, false);
  // Every map is off (2 images x 4 labels, none with a logit near 0); the first three are named
  // with the member, the image, the label and both values, each mean twice its logit.
  assert.match(cam.detail, /^CAM_MISMATCH: 8 of 8 class activation maps do not average to their logit/);
  assert.match(cam.detail, /; and 5 more\. Their heatmaps would not show what drives the scores/);
  const named = [
    ...cam.detail.matchAll(/alpha-scaled on disk\.png, (\w+): mean of the map (-?[\d.]+), logit (-?[\d.]+)/g),
  ];
  assert.deepEqual(
    named.map((m) => m[1]),
    ['Nodule', 'Cardiomegaly', 'Effusion'],
  );
  for (const [, , mean, logit] of named)
    assert.ok(Math.abs(Number(mean) - 2 * Number(logit)) < 2e-4, `${mean} vs ${logit}`);
  // Everything else about the pack is sound.
  for (const check of checks.filter((c) => c !== cam)) assert.equal(check.passed, true, check.name);
});

test('a pack without cam outputs passes the CAM check, saying there is nothing to check', () => {
  const result = triage(['selftest', '--models', OCCLUSION_PACK, '--samples', samples]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /CAM mean equals the logit\s+PASS\s+no member has a cam output/);
});

test('a damaged model file fails the load check by its hash', () => {
  const pack = packCopy('damaged');
  appendFileSync(join(pack, 'alpha', 'model.onnx'), Buffer.from([1, 2, 3]));
  const result = triage(['selftest', '--models', pack, '--samples', samples]);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /loads and runs\s+FAIL\s+HASH_MISMATCH/);
  assert.match(result.stdout, /SELFTEST FAILED/);
});

test('an explicitly requested GPU provider that this machine lacks fails instead of falling back', () => {
  const result = triage(['selftest', '--models', packCopy('webgpu'), '--samples', samples, '--ep', 'webgpu']);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /PROVIDER_UNAVAILABLE/);
});
