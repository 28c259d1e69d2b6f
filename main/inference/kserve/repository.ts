/**
 * A pack as a Triton model repository (`triage triton-repo PACK --out DIR`): one model per member
 * (and the gate model), named from its id and version, with a config.pbtxt whose inputs and
 * outputs are read from the ONNX graph and whose parameters record the ONNX file's SHA-256, and
 * the ONNX file as version 1. The KServe provider reads that hash and those tensors back from the
 * server before it runs anything.
 */
import ort from 'onnxruntime-node';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TriageError } from '../../errors/index.js';
import type { GateModelManifest, MemberManifest, ModelPack } from '../../packs/index.js';
import type { RemoteModel } from './client.js';

/** Triton's name for a pack model: its id and version, with every character but [A-Za-z0-9_-] made "_". */
export function tritonModelName(id: string, version: string): string {
  return `${id}-v${version}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The output names a model runs with, and their dims per image as the pack format promises them
 * (-1: any size): scores [labels], cam [labels, h, w], distance [], reconstruction [c, h, w].
 */
function outputDims(manifest: MemberManifest | GateModelManifest): Array<{ name: string; dims: number[] }> {
  if ('labels' in manifest) {
    const labels = manifest.labels.length;
    return [
      { name: manifest.outputs.scores.name, dims: [labels] },
      ...(manifest.outputs.cam ? [{ name: manifest.outputs.cam.name, dims: [labels, -1, -1] }] : []),
    ];
  }
  const { channels, height, width } = manifest.input;
  return [
    ...(manifest.outputs.reconstruction
      ? [{ name: manifest.outputs.reconstruction.name, dims: [channels, height, width] }]
      : []),
    ...(manifest.outputs.distance ? [{ name: manifest.outputs.distance.name, dims: [] }] : []),
  ];
}

/** What the KServe provider checks a served model against, for the outputs a run asks for. */
export function remoteModelOf(manifest: MemberManifest | GateModelManifest, outputNames: string[]): RemoteModel {
  const { channels, height, width, name } = manifest.input;
  return {
    model: tritonModelName(manifest.id, manifest.version),
    sha256: manifest.onnx.sha256,
    input: { name, dims: [channels, height, width] },
    outputs: outputDims(manifest).filter((output) => outputNames.includes(output.name)),
  };
}

export interface RepositoryModel {
  /** The pack's id of the model (a member, or the gate model). */
  id: string;
  name: string;
  sha256: string;
  config: string;
}

type GraphShape = ReadonlyArray<number | string>;

function tensorBlock(name: string, shape: GraphShape, what: string, model: string): string {
  if (shape.length === 0 || typeof shape[0] === 'number') {
    throw new TriageError(
      'INVALID_PACK',
      `${model}: the ONNX ${what} ${name} has no variable batch dimension first (shape [${shape.join(', ')}]); Triton's dynamic batching needs one.`,
    );
  }
  const dims = shape.slice(1);
  if (dims.some((d) => typeof d !== 'number' || d < 1)) {
    throw new TriageError(
      'INVALID_PACK',
      `${model}: the ONNX ${what} ${name} has a variable dimension after the batch (shape [${shape.join(', ')}]); the KServe provider needs fixed sizes.`,
    );
  }
  // A batched tensor of one value per image ([batch]) is dims [1] reshaped to [] (Triton's model configuration docs).
  const reshape = dims.length === 0 ? '\n    reshape: { shape: [ ] }' : '';
  return `  {\n    name: "${name}"\n    data_type: TYPE_FP32\n    dims: [ ${(dims.length === 0 ? [1] : dims).join(', ')} ]${reshape}\n  }`;
}

/** The config.pbtxt of one model, from its ONNX graph's inputs and outputs. */
export function modelConfig(
  name: string,
  sha256: string,
  maxBatchSize: number,
  inputs: Array<{ name: string; shape: GraphShape }>,
  outputs: Array<{ name: string; shape: GraphShape }>,
): string {
  return [
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
    `input [\n${inputs.map((t) => tensorBlock(t.name, t.shape, 'input', name)).join(',\n')}\n]`,
    `output [\n${outputs.map((t) => tensorBlock(t.name, t.shape, 'output', name)).join(',\n')}\n]`,
    'dynamic_batching { }',
    `parameters {\n  key: "onnx_sha256"\n  value: { string_value: "${sha256}" }\n}`,
    '',
  ].join('\n');
}

/**
 * Writes the model repository of a loaded pack (its hashes already checked) into `out`, which
 * must be empty or absent. Resolves with what it wrote, model by model.
 */
export async function writeModelRepository(pack: ModelPack, out: string, maxBatchSize = 8): Promise<RepositoryModel[]> {
  const entries = await readdir(out).catch(() => [] as string[]);
  if (entries.length > 0)
    throw new TriageError('OUTPUT_FAILED', `${out} already holds files; give an empty or new folder.`, { file: out });
  const models = [
    ...pack.members.map((member) => ({
      manifest: member.manifest as MemberManifest | GateModelManifest,
      onnxPath: member.onnxPath,
    })),
    ...(pack.gate?.model ? [{ manifest: pack.gate.model.manifest, onnxPath: pack.gate.model.onnxPath }] : []),
  ];
  const names = models.map(({ manifest }) => tritonModelName(manifest.id, manifest.version));
  if (new Set(names).size !== names.length)
    throw new TriageError('INVALID_PACK', `Two of the pack's models have the same Triton name (${names.join(', ')}).`);
  const written: RepositoryModel[] = [];
  for (const [m, { manifest, onnxPath }] of models.entries()) {
    const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'], logSeverityLevel: 4 });
    let config: string;
    try {
      const wanted = new Set([manifest.input.name, ...outputDims(manifest).map((o) => o.name)]);
      for (const meta of [...session.inputMetadata, ...session.outputMetadata]) {
        if (wanted.has(meta.name) && (!meta.isTensor || meta.type !== 'float32'))
          throw new TriageError('INVALID_PACK', `${manifest.id}: the ONNX tensor ${meta.name} is not float32.`);
      }
      const input = session.inputMetadata.find((meta) => meta.name === manifest.input.name);
      if (!input?.isTensor)
        throw new TriageError('INVALID_PACK', `${manifest.id}: the ONNX graph has no input ${manifest.input.name}.`);
      const outputs = outputDims(manifest).map(({ name }) => {
        const meta = session.outputMetadata.find((o) => o.name === name);
        if (!meta?.isTensor)
          throw new TriageError('INVALID_PACK', `${manifest.id}: the ONNX graph has no output ${name}.`);
        return { name, shape: meta.shape };
      });
      config = modelConfig(
        names[m],
        manifest.onnx.sha256,
        maxBatchSize,
        [{ name: input.name, shape: input.shape }],
        outputs,
      );
    } finally {
      await session.release();
    }
    const dir = join(out, names[m]);
    await mkdir(join(dir, '1'), { recursive: true });
    await copyFile(onnxPath, join(dir, '1', 'model.onnx'));
    await writeFile(join(dir, 'config.pbtxt'), config);
    written.push({ id: manifest.id, name: names[m], sha256: manifest.onnx.sha256, config });
  }
  return written;
}
