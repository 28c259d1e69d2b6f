/** `triage triton-repo PACK --out DIR [--max-batch N]` */
import { parseArgs } from 'node:util';
import { writeModelRepository } from '../../inference/index.js';
import { loadPack } from '../../packs/index.js';
import { printJson } from '../output.js';
import { positiveInteger, usage } from '../usage.js';

export const TRITON_REPO_HELP = `triage triton-repo PACK --out DIR [--max-batch N]

  Writes the model repository an NVIDIA Triton server (or another KServe v2 server that reads
  Triton repositories) serves the pack from, for triage ... --ep kserve:http://HOST:PORT. One
  model per member and one for the gate model, named ID-vVERSION (characters other than letters,
  digits, "_" and "-" become "_"): DIR/NAME/config.pbtxt (platform onnxruntime_onnx, FP32 inputs
  and outputs with the dims of the ONNX graph, dynamic batching, the ONNX file's SHA-256 as the
  parameter onnx_sha256) and DIR/NAME/1/model.onnx, a copy of the pack's file. The pack is
  checked first (every SHA-256). Before it runs anything, the kserve provider reads each served
  model's configuration and metadata back and refuses a model whose hash, inputs or outputs differ
  (REMOTE_MODEL_MISMATCH). Prints one JSON object: the models written, with names and hashes.
  --out DIR        a new or empty folder (refused when it holds files)
  --max-batch N    max_batch_size of every model (default 8); larger batches are sent in parts`;

export async function runTritonRepo(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, 'max-batch': { type: 'string' } },
  });
  if (positionals.length !== 1) usage(`triton-repo needs one PACK folder.\n\n${TRITON_REPO_HELP}`);
  if (values.out === undefined) usage(`--out DIR is required.\n\n${TRITON_REPO_HELP}`);
  const maxBatch = values['max-batch'] === undefined ? 8 : positiveInteger(values['max-batch'], '--max-batch');
  const pack = await loadPack(positionals[0]);
  const models = await writeModelRepository(pack, values.out, maxBatch);
  printJson({
    repository: {
      dir: values.out,
      pack: { id: pack.ensemble.id, version: pack.ensemble.version },
      maxBatchSize: maxBatch,
      models: models.map(({ id, name, sha256 }) => ({ id, name, sha256 })),
    },
  });
  return 0;
}
