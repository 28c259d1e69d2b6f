#!/usr/bin/env node
// Checks a pack written by export_torchxrayvision.py with onnxruntime-node (CPU), against the torch
// outputs the exporter saved in PACK/torch-reference.json:
//
//   node models/import/verify_export.mjs PACK_DIR [--json SUMMARY.json] [--tolerance 1e-4] [--reference FILE]
//
// For every exported member:
// - the ONNX file's SHA-256 equals its manifest's and the one torch exported (the same file);
// - the graph's input and outputs carry the manifest's names;
// - the two deterministic inputs (chest-like phantoms with hash noise, integers in [-1024, 1024],
//   rebuilt here bit for bit from the spec and the lowbias32 hash the exporter used; their sum is checked)
//   give logits and CAM within the tolerance of torch's: max |difference| <= 1e-4 * max(1, max |torch
//   value|) per output (absolute up to 1, relative beyond: float32 rounding of a 2048-channel CAM sum
//   moves a cell by about 1e-5 of its size, in torch too; the table shows torch's own float32 - float64);
// - mean over the cells of cam[n, k] equals logit[n, k] within the CAM's limit (onnxruntime's own outputs);
// - batch 1 gives the rows of batch 2 (dynamic batch).
// The gate model, when exported (--gate ae): the same file checks, and on the same inputs its
// reconstruction within 1e-4 * max(1, max |torch value|) of torch's, batch 1 as batch 2; a gate
// check in ensemble.json must read the model torch exported.
// Every ensemble member must have been checked. Prints a table; exits 1 on any failure, 2 on bad usage.
// Needs only Node 20 and this repository's node_modules (npm ci): it runs on the offline workstation
// too, where it proves that the copied pack computes there what torch computed.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';

function usage(message) {
  console.error(
    `${message}\nusage: node models/import/verify_export.mjs PACK_DIR [--json SUMMARY.json] [--tolerance 1e-4] [--reference FILE]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let packDir;
let jsonOut;
let tolerance;
let referencePath;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--json') jsonOut = args[++i] ?? usage('--json needs a path');
  else if (args[i] === '--tolerance') tolerance = Number(args[++i]);
  else if (args[i] === '--reference') referencePath = resolve(args[++i] ?? usage('--reference needs a path'));
  else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`);
  else if (packDir === undefined) packDir = resolve(args[i]);
  else usage(`unexpected argument ${args[i]}`);
}
if (packDir === undefined) usage('PACK_DIR is required');
referencePath ??= join(packDir, 'torch-reference.json');
if (!existsSync(referencePath))
  usage(`${referencePath} is missing: export the pack with export_torchxrayvision.py first`);
const reference = JSON.parse(readFileSync(referencePath, 'utf8'));
tolerance ??= reference.tolerance ?? 1e-4;
if (!(tolerance > 0)) usage('--tolerance must be a positive number');

// ---- the exporter's deterministic inputs (export_torchxrayvision.py: _hash32, _image)
function hash32(x) {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

// A phantom as the exporter paints it: background, shapes in order (percent of the side, floored),
// then hash noise; the spec comes from torch-reference.json, the sum of the result is checked.
function image(spec, index, size, seed, out, offset) {
  const mix = Math.imul(seed, 0x9e3779b1) >>> 0;
  const d = (percent) => Math.floor((size * percent) / 100);
  const inEllipse = (y, x, [cy, cx, ry, rx]) => {
    [cy, cx, ry, rx] = [d(cy), d(cx), d(ry), d(rx)];
    return (x - cx) ** 2 * ry * ry + (y - cy) ** 2 * rx * rx <= rx * rx * ry * ry;
  };
  const half = Math.floor(size / 2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const h = hash32((index * size * size + y * size + x + mix) >>> 0);
      const body = inEllipse(y, x, spec.shapes[0].slice(2, 6));
      let v = spec.background;
      for (const shape of spec.shapes) {
        const [kind, value] = shape;
        if (kind === 'ellipse') {
          if (inEllipse(y, x, shape.slice(2, 6))) v = value;
        } else if (kind === 'ellipse-below') {
          if (inEllipse(y, x, shape.slice(2, 6)) && y >= d(shape[6])) v = value;
        } else if (kind === 'spine') {
          if (body && Math.abs(x - half) <= d(shape[2])) v = value;
        } else {
          throw new Error(`unknown phantom shape ${kind}`);
        }
      }
      out[offset + y * size + x] = Math.min(1024, Math.max(-1024, v + (h % (2 * spec.noise + 1)) - spec.noise));
    }
  }
}

function referenceInputs(input) {
  const [n, channels, height, width] = input.shape;
  if (channels !== 1 || height !== width) throw new Error(`unexpected reference input shape ${input.shape}`);
  const data = new Float32Array(n * height * width);
  for (let i = 0; i < n; i++) {
    const spec = input.phantoms[input.kinds[i % input.kinds.length]];
    image(spec, i, height, input.seed, data, i * height * width);
  }
  return data;
}

// ---- helpers
async function sha256File(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

function maxAbs(values) {
  let max = 0;
  for (const value of values) max = Math.max(max, Math.abs(value));
  return max;
}

const fmt = (value) => (Number.isFinite(value) ? value.toExponential(1) : String(value));

// ---- checks
const rows = [];
const failures = [];
function fail(member, message) {
  failures.push(`${member}: ${message}`);
}

/**
 * A model's manifest and ONNX file, checked against its manifest and torch's reference (hash,
 * rebuilt inputs, input shape), with its onnxruntime session; failures are recorded, not thrown.
 */
async function openChecked(id, ref) {
  const manifest = JSON.parse(readFileSync(join(packDir, id, 'manifest.json'), 'utf8'));
  const onnxPath = join(packDir, id, manifest.onnx.file);
  const digest = await sha256File(onnxPath);
  if (digest !== manifest.onnx.sha256)
    fail(id, `${onnxPath} has SHA-256 ${digest}, its manifest says ${manifest.onnx.sha256}`);
  if (digest !== ref.onnx.sha256)
    fail(id, `${onnxPath} is not the file torch exported (SHA-256 ${digest}, reference ${ref.onnx.sha256})`);
  const data = referenceInputs(ref.input);
  const sum = data.reduce((total, value) => total + value, 0);
  if (sum !== ref.input.sum)
    fail(id, `rebuilt inputs sum to ${sum}, torch's to ${ref.input.sum}: the input generators differ`);
  const [n, , height, width] = ref.input.shape;
  if (manifest.input.height !== height || manifest.input.width !== width || manifest.input.channels !== 1) {
    fail(
      id,
      `manifest input ${manifest.input.channels}x${manifest.input.height}x${manifest.input.width}, torch ran 1x${height}x${width}`,
    );
  }
  const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'] });
  return { manifest, data, n, height, width, session };
}

const ensemblePath = join(packDir, 'ensemble.json');
const ensemble = existsSync(ensemblePath) ? JSON.parse(readFileSync(ensemblePath, 'utf8')) : null;
if (!ensemble) fail('pack', `${ensemblePath} is missing`);
for (const member of ensemble?.members ?? []) {
  if (!reference.members?.[member]) fail(member, 'an ensemble member without torch outputs in torch-reference.json');
}

for (const [id, ref] of Object.entries(reference.members ?? {})) {
  const row = {
    member: id,
    logits: NaN,
    logitLimit: NaN,
    cam: NaN,
    camLimit: NaN,
    torchF64: NaN,
    meanCam: NaN,
    batch: NaN,
    ms: NaN,
    ok: false,
  };
  rows.push(row);
  const failuresBefore = failures.length;
  try {
    const { manifest, data, n, height, width, session } = await openChecked(id, ref);
    const inputName = manifest.input.name;
    const scoresName = manifest.outputs.scores.name;
    const camName = manifest.outputs.cam?.name;
    if (!session.inputNames.includes(inputName)) fail(id, `graph inputs ${session.inputNames} lack "${inputName}"`);
    for (const name of [scoresName, camName]) {
      if (name && !session.outputNames.includes(name)) fail(id, `graph outputs ${session.outputNames} lack "${name}"`);
    }
    if (!camName) fail(id, 'the manifest names no cam output');

    const started = performance.now();
    const outputs = await session.run({ [inputName]: new ort.Tensor('float32', data, [n, 1, height, width]) });
    row.ms = performance.now() - started;
    const scores = outputs[scoresName];
    const cam = outputs[camName];
    const labels = ref.logits[0].length;
    const [, camLabels, camH, camW] = cam.dims;
    if (scores.dims.join() !== [n, labels].join()) fail(id, `scores dims ${scores.dims}, expected ${[n, labels]}`);
    const torchCam = ref.cam.flat(3);
    if (cam.dims.join() !== [n, ref.cam[0].length, ref.cam[0][0].length, ref.cam[0][0][0].length].join()) {
      fail(
        id,
        `cam dims ${cam.dims}, torch's ${[n, ref.cam[0].length, ref.cam[0][0].length, ref.cam[0][0][0].length]}`,
      );
    }
    row.logits = maxAbsDiff(scores.data, ref.logits.flat());
    row.cam = maxAbsDiff(cam.data, torchCam);

    // mean over the cells of each map equals the logit (onnxruntime's own outputs)
    const cells = camH * camW;
    let meanCam = 0;
    for (let i = 0; i < n * camLabels; i++) {
      let total = 0;
      for (let c = 0; c < cells; c++) total += cam.data[i * cells + c];
      meanCam = Math.max(meanCam, Math.abs(total / cells - scores.data[i]));
    }
    row.meanCam = meanCam;

    // dynamic batch: each image alone gives its row of the batch
    let batch = 0;
    for (let i = 0; i < n; i++) {
      const one = data.subarray(i * height * width, (i + 1) * height * width);
      const single = await session.run({ [inputName]: new ort.Tensor('float32', one, [1, 1, height, width]) });
      batch = Math.max(
        batch,
        maxAbsDiff(single[scoresName].data, scores.data.subarray(i * labels, (i + 1) * labels)),
        maxAbsDiff(single[camName].data, cam.data.subarray(i * camLabels * cells, (i + 1) * camLabels * cells)),
      );
    }
    row.batch = batch;
    await session.release?.();

    // Absolute for values up to 1, relative to the output's largest magnitude beyond: float32 keeps
    // about 7 digits, and a CAM cell (thousands of mixed-sign products) loses one or two of them.
    const logitScale = Math.max(1, maxAbs(ref.logits.flat()));
    const camScale = Math.max(1, maxAbs(torchCam));
    row.logitLimit = tolerance * logitScale;
    row.camLimit = tolerance * camScale;
    row.torchF64 = ref.torchFloat32MinusFloat64?.cam ?? NaN;
    const limits = [
      ['logits vs torch', row.logits, row.logitLimit],
      ['cam vs torch', row.cam, row.camLimit],
      ['mean(cam) vs logit', row.meanCam, row.camLimit],
      ['batch 1 vs batch 2', row.batch, row.camLimit],
    ];
    for (const [what, value, limit] of limits) {
      if (!(value <= limit)) fail(id, `${what}: max |difference| ${fmt(value)} > ${fmt(limit)}`);
    }
  } catch (error) {
    fail(id, `${error.message}`);
  }
  row.ok = failures.length === failuresBefore;
}

// ---- the gate model (export_torchxrayvision.py --gate): its reconstruction against torch's
const gateRef = reference.gate ?? null;
const gateModel = ensemble?.gate?.checks?.find((check) => check.model)?.model;
if (gateModel !== undefined && gateRef?.id !== gateModel) {
  fail(
    'gate',
    `ensemble.json's gate reads the model "${gateModel}", but torch-reference.json has ${gateRef ? `"${gateRef.id}"` : 'no gate model'}`,
  );
}
let gateRow = null;
if (gateRef) {
  const id = gateRef.id;
  gateRow = { model: id, reconstruction: NaN, limit: NaN, torchF64: NaN, batch: NaN, ms: NaN, ok: false };
  const failuresBefore = failures.length;
  try {
    const { manifest, data, n, height, width, session } = await openChecked(id, gateRef);
    const inputName = manifest.input.name;
    const outputName = manifest.outputs.reconstruction?.name;
    if (!outputName) fail(id, 'the manifest names no reconstruction output');
    if (!session.inputNames.includes(inputName)) fail(id, `graph inputs ${session.inputNames} lack "${inputName}"`);
    if (outputName && !session.outputNames.includes(outputName))
      fail(id, `graph outputs ${session.outputNames} lack "${outputName}"`);
    const started = performance.now();
    const outputs = await session.run({ [inputName]: new ort.Tensor('float32', data, [n, 1, height, width]) });
    gateRow.ms = performance.now() - started;
    const reconstruction = outputs[outputName];
    if (reconstruction.dims.join() !== [n, 1, height, width].join())
      fail(id, `reconstruction dims ${reconstruction.dims}, the input's ${[n, 1, height, width]}`);
    gateRow.reconstruction = maxAbsDiff(reconstruction.data, gateRef.reconstruction);
    let batch = 0;
    for (let i = 0; i < n; i++) {
      const one = data.subarray(i * height * width, (i + 1) * height * width);
      const single = await session.run({ [inputName]: new ort.Tensor('float32', one, [1, 1, height, width]) });
      batch = Math.max(
        batch,
        maxAbsDiff(single[outputName].data, reconstruction.data.subarray(i * height * width, (i + 1) * height * width)),
      );
    }
    gateRow.batch = batch;
    await session.release?.();
    // The same rule as the members': absolute up to 1, relative to the largest |torch value| beyond.
    gateRow.limit = tolerance * Math.max(1, maxAbs(gateRef.reconstruction));
    gateRow.torchF64 = gateRef.torchFloat32MinusFloat64?.reconstruction ?? NaN;
    for (const [what, value] of [
      ['reconstruction vs torch', gateRow.reconstruction],
      ['batch 1 vs batch 2', gateRow.batch],
    ]) {
      if (!(value <= gateRow.limit)) fail(id, `${what}: max |difference| ${fmt(value)} > ${fmt(gateRow.limit)}`);
    }
  } catch (error) {
    fail(id, `${error.message}`);
  }
  gateRow.ok = failures.length === failuresBefore;
}

// ---- report
const header = [
  'member',
  'logits max|d| (limit)',
  'cam max|d| (limit)',
  'torch f32-f64 cam',
  'mean(cam)-logit',
  'batch1 vs 2',
  'run ms',
  'result',
];
const table = rows.map((r) => [
  r.member,
  `${fmt(r.logits)} (${fmt(r.logitLimit)})`,
  `${fmt(r.cam)} (${fmt(r.camLimit)})`,
  Number.isNaN(r.torchF64) ? '-' : fmt(r.torchF64),
  fmt(r.meanCam),
  fmt(r.batch),
  Number.isFinite(r.ms) ? r.ms.toFixed(0) : '-',
  r.ok ? 'ok' : 'FAIL',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(
  `onnxruntime-node ${ort.env.versions?.common ?? ''} (cpu) vs torch ${reference.generator?.torch ?? '?'}: ${packDir}, tolerance ${tolerance}`,
);
console.log(line(header));
for (const t of table) console.log(line(t));
if (gateRow) {
  const gateHeader = [
    'gate model',
    'reconstruction max|d| (limit)',
    'torch f32-f64',
    'batch1 vs 2',
    'run ms',
    'result',
  ];
  const gateCells = [
    gateRow.model,
    `${fmt(gateRow.reconstruction)} (${fmt(gateRow.limit)})`,
    Number.isNaN(gateRow.torchF64) ? '-' : fmt(gateRow.torchF64),
    fmt(gateRow.batch),
    Number.isFinite(gateRow.ms) ? gateRow.ms.toFixed(0) : '-',
    gateRow.ok ? 'ok' : 'FAIL',
  ];
  const gateWidths = gateHeader.map((h, i) => Math.max(h.length, gateCells[i].length));
  const gateLine = (cells) => cells.map((c, i) => c.padEnd(gateWidths[i])).join('  ');
  console.log(gateLine(gateHeader));
  console.log(gateLine(gateCells));
}
for (const message of failures) console.log(`FAIL ${message}`);
const ok = failures.length === 0 && rows.length > 0;
if (rows.length === 0) console.log('FAIL torch-reference.json lists no members');
console.log(
  ok
    ? `all ${rows.length} member(s)${gateRow ? ' and the gate model' : ''} agree with torch`
    : `${failures.length} failure(s)`,
);
if (jsonOut) {
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ ok, tolerance, pack: packDir, members: rows, gate: gateRow, failures }, null, 2)}\n`,
  );
}
process.exit(ok ? 0 : 1);
