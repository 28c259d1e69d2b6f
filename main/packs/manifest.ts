/**
 * The model pack format. A model travels with everything needed to use it correctly (labels in
 * output order with their PadChest terms and operating points, preprocessing, outputs, model
 * card), so that nothing about a model is hard-coded anywhere else. Validated with zod at load;
 * errors name the field.
 *
 * A pack is a folder with `ensemble.json` and one sub-folder per member holding `manifest.json`
 * and the ONNX file.
 */
import { z } from 'zod';
import { IndeterminateBandSchema, TreeSchema } from '../domain/index.js';
import type { IndeterminateBand } from '../domain/index.js';

export const MANIFEST_FILE = 'manifest.json';
export const ENSEMBLE_FILE = 'ensemble.json';

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit');

/**
 * TorchXRayVision's normalisation: (2 * x / maxval - 1) * 1024, maxval from the stored bit depth
 * (255 for 8-bit images). Or ImageNet-style mean/std on values scaled to [0, 1].
 */
export const NormalizationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('xrv'), range: z.number().positive().default(1024) }).strict(),
  z
    .object({
      kind: z.literal('mean-std'),
      mean: z.array(z.number()).min(1),
      std: z.array(z.number().positive()).min(1),
    })
    .strict(),
]);

export const InputSpecSchema = z
  .object({
    /** Name of the graph input. */
    name: z.string().min(1),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().min(8).max(4096),
    width: z.number().int().min(8).max(4096),
    /**
     * What the model was trained on: `display` is the VOI-windowed rendering (bone bright), as
     * PadChest's PNGs were made; `stored` is the modality values (MONOCHROME1 inverted), scaled
     * from the stored bit depth, as TorchXRayVision's DICOM reader does.
     */
    source: z.enum(['display', 'stored']),
    /** center-square: crop the long side to a centred square (TorchXRayVision); stretch: no crop. */
    crop: z.enum(['center-square', 'stretch']),
    /** area: average every source pixel a target pixel covers (no aliasing when shrinking). */
    resize: z.enum(['area', 'bilinear']),
    normalization: NormalizationSchema,
  })
  .strict();

export const OutputSpecSchema = z
  .object({
    /** Scores, shape [batch, labels]. */
    scores: z.object({ name: z.string().min(1), kind: z.enum(['logits', 'probabilities']) }).strict(),
    /**
     * Class activation maps computed inside the graph, shape [batch, labels, h, w]: the features
     * of the last convolution times the classifier weights, before any pooling.
     */
    cam: z
      .object({ name: z.string().min(1) })
      .strict()
      .nullable(),
  })
  .strict();

export const LabelSpecSchema = z
  .object({
    /** The model's own name for the output. */
    name: z.string().min(1),
    /** The PadChest taxonomy term it maps to, and in which tree. */
    term: z.string().min(1),
    tree: TreeSchema,
    /**
     * Threshold on the model's probability chosen on validation data; calibration maps it to 0.5
     * (TorchXRayVision's op_threshs). Null for an untrained head.
     */
    operatingPoint: z.number().gt(0).lt(1).nullable(),
    /** Untrained heads (TorchXRayVision returns 0.5 for them) never vote. */
    trained: z.boolean(),
  })
  .strict()
  .refine((label) => !label.trained || label.operatingPoint !== null, {
    message: 'a trained label needs an operating point',
    path: ['operatingPoint'],
  });

export const ModelCardSchema = z
  .object({
    intendedUse: z.string().min(1),
    trainingData: z.string().min(1),
    metrics: z.record(z.string(), z.unknown()),
    notForClinicalUse: z.boolean(),
    limitations: z.string().optional(),
    license: z.string().optional(),
    citation: z.string().optional(),
  })
  .strict();

export const MemberManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    id,
    name: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'a semantic version such as 1.0.0'),
    architecture: z.string().min(1),
    onnx: z
      .object({
        file: z.string().regex(/^[^/\\]+\.onnx$/, 'an .onnx file name inside the member folder'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
      })
      .strict(),
    input: InputSpecSchema,
    outputs: OutputSpecSchema,
    labels: z.array(LabelSpecSchema).min(1),
    card: ModelCardSchema,
  })
  .strict()
  .superRefine((manifest, context) => {
    const seen = new Set<string>();
    manifest.labels.forEach((label, index) => {
      if (seen.has(label.name)) {
        context.addIssue({
          code: 'custom',
          message: `duplicate label "${label.name}"`,
          path: ['labels', index, 'name'],
        });
      }
      seen.add(label.name);
    });
    const { normalization, channels } = manifest.input;
    if (
      normalization.kind === 'mean-std' &&
      (normalization.mean.length !== channels || normalization.std.length !== channels)
    ) {
      context.addIssue({
        code: 'custom',
        message: `mean and std need ${channels} values, one per channel`,
        path: ['input', 'normalization'],
      });
    }
  });

export const VotingRuleSchema = z.discriminatedUnion('kind', [
  /** Positive when strictly more than half of the members that cover the finding vote positive. */
  z.object({ kind: z.literal('majority') }).strict(),
  z.object({ kind: z.literal('any') }).strict(),
  z.object({ kind: z.literal('all') }).strict(),
  /** Positive when the mean calibrated probability of the covering members reaches the threshold. */
  z.object({ kind: z.literal('soft-mean'), threshold: z.number().gt(0).lt(1) }).strict(),
]);

/** The indeterminate band of a pack whose ensemble.json declares none: calibrated [0.4, 0.6). */
export const DEFAULT_INDETERMINATE_BAND: Readonly<IndeterminateBand> = Object.freeze({ low: 0.4, high: 0.6 });

export const EnsembleManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    id,
    name: z.string().min(1),
    version: z.string().min(1),
    /** Member folder names, relative to the pack folder. */
    members: z.array(id).min(1),
    rule: VotingRuleSchema,
    /**
     * Ensemble probabilities shown as indeterminate, [low, high) around the operating point (0.5);
     * optional, DEFAULT_INDETERMINATE_BAND when absent.
     */
    indeterminate: IndeterminateBandSchema.strict().default(() => ({ ...DEFAULT_INDETERMINATE_BAND })),
    /** A demonstration pack: every output it produces says "not for clinical use". */
    demo: z.boolean(),
  })
  .strict()
  .refine((ensemble) => new Set(ensemble.members).size === ensemble.members.length, {
    message: 'members must be distinct',
    path: ['members'],
  });

export type Normalization = z.infer<typeof NormalizationSchema>;
export type InputSpec = z.infer<typeof InputSpecSchema>;
export type OutputSpec = z.infer<typeof OutputSpecSchema>;
export type LabelSpec = z.infer<typeof LabelSpecSchema>;
export type ModelCard = z.infer<typeof ModelCardSchema>;
export type MemberManifest = z.infer<typeof MemberManifestSchema>;
export type VotingRule = z.infer<typeof VotingRuleSchema>;
export type EnsembleManifest = z.infer<typeof EnsembleManifestSchema>;
