/**
 * The GPU benchmark carries its random-weight pack as graphs alone and fills the weights on the
 * GPU machine (test/bench/pack_weights.py): what travels must be small, and what is filled must be
 * the same graph (every node and every initializer's name, type and shape, read back by onnx), a
 * pack that loads (its manifests' hashes match) and runs through the engine.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { after, test } from 'node:test';
import { Engine } from '../../main/engine/index.js';
import { loadPack } from '../../main/packs/load.js';
import { PYTHON } from '../support/reference-tools.js';
import { writeDiskPng } from '../support/images.js';
import { scratchDir } from '../support/tools.js';

const DEMO = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../bench/pack_weights.py', import.meta.url));
const scratch = scratchDir('bench-weights');
after(() => scratch.remove());

/** Every model's nodes and initializers (name, type, shape), as onnx reads them. */
function graphs(pack: string): unknown {
  const code = `
import json, os, sys, onnx
out = {}
for entry in sorted(os.listdir(sys.argv[1])):
    path = os.path.join(sys.argv[1], entry, "model.onnx")
    if os.path.isfile(path):
        g = onnx.load(path).graph
        out[entry] = {"nodes": [[n.op_type, list(n.input), list(n.output)] for n in g.node],
                      "initializers": [[t.name, t.data_type, list(t.dims)] for t in g.initializer]}
print(json.dumps(out))`;
  return JSON.parse(execFileSync(PYTHON, ['-c', code, pack], { encoding: 'utf8' }));
}

const sizeOf = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, entry) => sum + (entry.isDirectory() ? sizeOf(join(dir, entry.name)) : statSync(join(dir, entry.name)).size),
    0,
  );

test('a pack stripped of its weights travels small and, filled, is the same graph and runs', async () => {
  // The demonstration pack's members, without its image gate (fitted to those members' weights).
  const source = join(scratch.path, 'demo');
  cpSync(DEMO, source, { recursive: true, filter: (path) => !path.includes(`${sep}evidence`) });
  rmSync(join(source, 'gate'), { recursive: true });
  const ensemble = JSON.parse(readFileSync(join(source, 'ensemble.json'), 'utf8'));
  delete ensemble.gate;
  writeFileSync(join(source, 'ensemble.json'), JSON.stringify(ensemble, null, 2));
  const stripped = join(scratch.path, 'graphs');
  execFileSync(PYTHON, [SCRIPT, 'strip', source, stripped]);
  const models = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && readdirSync(join(dir, e.name)).includes('model.onnx'))
      .reduce((sum, e) => sum + statSync(join(dir, e.name, 'model.onnx')).size, 0);
  assert.ok(
    models(stripped) < models(source) / 4,
    `stripped models ${models(stripped)} bytes against ${models(source)}; the whole folder ${sizeOf(stripped)}`,
  );
  execFileSync(PYTHON, [SCRIPT, 'fill', stripped]);
  assert.deepEqual(graphs(stripped), graphs(source), 'the same nodes and initializers, names, types and shapes');
  await loadPack(stripped); // the manifests' SHA-256 match the filled models
  const image = join(scratch.path, 'disk.png');
  writeDiskPng(image, 400, 300, { x: 260, y: 80, radius: 28 });
  const engine = await Engine.create({ models: stripped, provider: 'cpu', threads: 1 });
  try {
    for await (const { result } of engine.analyze([image])) {
      assert.equal(result.status, 'ok', result.reason ?? '');
      assert.ok(result.findings.length > 0);
    }
  } finally {
    await engine.close();
  }
});
