/**
 * One tensor of an ONNX graph for every image of prepared tensors, with onnxruntime-node on the
 * CPU: train_gate.py's way to read a member's pooled features (Debian's Python has no ONNX
 * runtime, and the product's own runtime is the one whose numbers count).
 *
 * usage: node dist/models/training/gate-features.js MODEL.onnx OUTPUT OUT.f32 IN.x.f32 [IN.x.f32 ...]
 *
 * IN: N x 1 x 224 x 224 float32 little endian (prepare-dataset.ts's NAME.x.f32). OUT: the OUTPUT
 * tensor's rows for every image of every IN, in order, float32 little endian.
 */
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const SIDE = 224;
const BATCH = 32;

async function main(): Promise<void> {
  const [model, output, out, ...inputs] = process.argv.slice(2);
  if (!model || !output || !out || inputs.length === 0) {
    throw new Error('usage: gate-features.js MODEL.onnx OUTPUT OUT.f32 IN.x.f32 [IN.x.f32 ...]');
  }
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const imageBytes = SIDE * SIDE * 4;
  const rows: Buffer[] = [];
  let images = 0;
  for (const input of inputs) {
    const count = statSync(input).size / imageBytes;
    if (!Number.isInteger(count)) throw new Error(`${input} is not a whole number of ${SIDE} x ${SIDE} images`);
    const fd = openSync(input, 'r');
    try {
      for (let first = 0; first < count; first += BATCH) {
        const n = Math.min(BATCH, count - first);
        const bytes = Buffer.alloc(n * imageBytes);
        readSync(fd, bytes, 0, bytes.length, first * imageBytes);
        const data = new Float32Array(bytes.buffer, bytes.byteOffset, n * SIDE * SIDE);
        const result = await session.run({
          [session.inputNames[0]]: new ort.Tensor('float32', data, [n, 1, SIDE, SIDE]),
        });
        const tensor = result[output];
        if (!tensor) throw new Error(`${model} has no output "${output}"`);
        rows.push(Buffer.from((tensor.data as Float32Array).slice().buffer));
      }
    } finally {
      closeSync(fd);
    }
    images += count;
  }
  writeFileSync(out, Buffer.concat(rows));
  console.log(`${output} of ${images} images -> ${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
