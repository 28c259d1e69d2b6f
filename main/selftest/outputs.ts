/**
 * Each member's own outputs for a list of radiographs: the logits of every label (untrained heads
 * included) and, where the member has one, its class activation map. The engine hands on only
 * what a reader needs (calibrated, rounded probabilities of the trained heads, normalised maps of
 * the positive findings); the self-test's CAM check and the demonstration pack's evaluation need
 * the outputs themselves. Each file is read and preprocessed with the member's input spec by the
 * same stages the engine's decode workers use (ingest, preprocess; the caller passes only files
 * the engine accepted), and run by the same ONNX runtime worker.
 */
import { TriageError } from '../errors/index.js';
import { InferenceService, remoteModelOf } from '../inference/index.js';
import type { ProviderChoice } from '../inference/index.js';
import { readRadiograph } from '../ingest/index.js';
import type { ModelPack } from '../packs/index.js';
import { preprocess } from '../preprocess/index.js';
import type { PlaneCache } from '../preprocess/index.js';
import { logit as logitOf } from '../ensemble/index.js';

/** One member's class activation map for one image: labels x rows x columns. */
export interface CamOutput {
  labels: number;
  rows: number;
  columns: number;
  data: Float32Array;
}

export interface MemberOutput {
  /** The scores output: one value per label, in the manifest's order. */
  scores: Float32Array;
  /** The cam output, when asked for and the member has one. */
  cam: CamOutput | null;
}

export interface ImageOutputs {
  file: string;
  /** By member id. */
  members: Record<string, MemberOutput>;
}

/** The members' outputs, image by image, in the order given; `batchSize` images per run. */
export async function* memberOutputs(
  pack: ModelPack,
  files: readonly string[],
  options: { provider: ProviderChoice; threads?: number; batchSize?: number; cam: boolean },
): AsyncGenerator<ImageOutputs> {
  const members = pack.members.map((member) => member.manifest);
  const inference = await InferenceService.start(
    pack.members.map((member) => {
      const outputNames = [
        member.manifest.outputs.scores.name,
        ...(options.cam && member.manifest.outputs.cam ? [member.manifest.outputs.cam.name] : []),
      ];
      return {
        memberId: member.manifest.id,
        onnxPath: member.onnxPath,
        inputName: member.manifest.input.name,
        outputNames,
        remote: remoteModelOf(member.manifest, outputNames),
      };
    }),
    options.provider,
    options.threads,
  );
  // As the engine plans it: decode the resolution the largest model input needs.
  const minShortSide = Math.max(...members.map((m) => Math.max(m.input.height, m.input.width)));
  const batchSize = options.batchSize ?? 8;
  try {
    for (let start = 0; start < files.length; start += batchSize) {
      const batch = files.slice(start, start + batchSize);
      const inputs: Float32Array[][] = [];
      for (const file of batch) {
        const radiograph = await readRadiograph(file, { minShortSide });
        const planes: PlaneCache = new Map();
        inputs.push(members.map((manifest) => preprocess(radiograph, manifest.input, planes).data));
      }
      const runs = await Promise.all(
        members.map((manifest, m) => {
          const size = inputs[0][m].length;
          const data = new Float32Array(size * batch.length);
          inputs.forEach((image, i) => data.set(image[m], i * size));
          const { channels, height, width } = manifest.input;
          return inference.run(manifest.id, { data, dims: [batch.length, channels, height, width] });
        }),
      );
      for (const [i, file] of batch.entries()) {
        const outputs: Record<string, MemberOutput> = {};
        members.forEach((manifest, m) => {
          const labels = manifest.labels.length;
          const scores = runs[m].outputs[manifest.outputs.scores.name].data.slice(i * labels, (i + 1) * labels);
          const camTensor = manifest.outputs.cam ? runs[m].outputs[manifest.outputs.cam.name] : undefined;
          let cam: CamOutput | null = null;
          if (camTensor) {
            const [, camLabels, rows, columns] = camTensor.dims;
            if (camLabels !== labels)
              throw new TriageError(
                'INVALID_PACK',
                `Member "${manifest.id}": its cam output has ${camLabels} maps for ${labels} labels.`,
              );
            const size = labels * rows * columns;
            cam = { labels, rows, columns, data: camTensor.data.slice(i * size, (i + 1) * size) };
          }
          outputs[manifest.id] = { scores, cam };
        });
        yield { file, members: outputs };
      }
    }
  } finally {
    await inference.close();
  }
}

/** How far the mean of a label's map may be from its logit: relative, to a logit of at least 1. */
export const CAM_TOLERANCE = 1e-3;

export interface CamGap {
  /** The label's index in the manifest. */
  label: number;
  /** The mean over the map's cells, and the logit. */
  mean: number;
  logit: number;
  difference: number;
  /** CAM_TOLERANCE x max(1, |logit|). */
  allowed: number;
}

/**
 * The pack format's promise for a `cam` output (docs/model-packs.md): the classifier applied to
 * the features at every cell, bias included, so that the mean over the cells is the logit (for a
 * model whose scores are probabilities, the logit of its score). One entry per label.
 */
export function camGaps(
  scores: ArrayLike<number>,
  cam: CamOutput,
  kind: 'logits' | 'probabilities' = 'logits',
): CamGap[] {
  const cells = cam.rows * cam.columns;
  return Array.from({ length: cam.labels }, (_, label) => {
    let sum = 0;
    for (let c = 0; c < cells; c++) sum += cam.data[label * cells + c];
    const mean = sum / cells;
    const logit = kind === 'logits' ? scores[label] : logitOf(scores[label]);
    return {
      label,
      mean,
      logit,
      difference: Math.abs(mean - logit),
      allowed: CAM_TOLERANCE * Math.max(1, Math.abs(logit)),
    };
  });
}
