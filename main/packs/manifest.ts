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

const semver = z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'a semantic version such as 1.0.0');

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');

/** A model's ONNX file inside its folder, with the SHA-256 it was validated with. */
const onnxFile = z
  .object({
    file: z.string().regex(/^[^/\\]+\.onnx$/, 'an .onnx file name inside the model folder'),
    sha256,
  })
  .strict();

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

/** What every model file of a pack declares: its identity, its ONNX file and the input it reads. */
const modelIdentity = {
  schemaVersion: z.literal(1),
  id,
  name: z.string().min(1),
  version: semver,
  architecture: z.string().min(1),
  onnx: onnxFile,
  input: InputSpecSchema,
};

export const MemberManifestSchema = z
  .object({
    ...modelIdentity,
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

/**
 * A gate model a pack may carry, fitted to the pack's own training distribution only: an
 * autoencoder whose reconstruction of an unfamiliar image is poor (Chester's and TorchXRayVision's
 * out-of-distribution test), or a feature extractor that gives an image's distance from the
 * training images in its feature space.
 */
export const GateModelManifestSchema = z
  .object({
    ...modelIdentity,
    /**
     * The member this gate model was cut from, when it shares that member's weights (a feature
     * distance): loading refuses a pack whose member has changed since, as the gate would then
     * measure distances in a feature space the member no longer has.
     */
    basedOn: z.object({ member: id, sha256 }).strict().optional(),
    outputs: z
      .object({
        /** The reconstruction, shape [batch, channels, height, width], in the input's units. */
        reconstruction: z
          .object({ name: z.string().min(1) })
          .strict()
          .optional(),
        /**
         * The image's distance from the training distribution in the model's feature space, shape
         * [batch] (e.g. the squared Mahalanobis distance of a member's pooled features).
         */
        distance: z
          .object({ name: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .refine((outputs) => outputs.reconstruction || outputs.distance, {
        message: 'give a reconstruction output, a distance output or both',
      }),
    card: ModelCardSchema,
  })
  .strict();

/** How a gate threshold was chosen: on which in-distribution images, by which rule. */
export const ThresholdChoiceSchema = z
  .object({
    /** The split of the pack's own data, e.g. "validation". */
    split: z.string().min(1),
    seed: z.number().int().nullable(),
    images: z.number().int().positive(),
    /** e.g. "0.25th percentile of the validation phantoms' SSIM". */
    rule: z.string().min(1),
    /** How many of those images the threshold rejects. */
    rejected: z.number().int().nonnegative(),
    /** When and with what it was chosen (date, command). */
    chosenBy: z.string().min(1),
  })
  .strict();

/** The interval of scores an in-distribution image has; outside it the image is rejected. */
const AcceptedRangeSchema = z
  .object({ min: z.number().nullable(), max: z.number().nullable() })
  .strict()
  .refine((range) => range.min !== null || range.max !== null, { message: 'give min, max or both' })
  .refine((range) => range.min === null || range.max === null || range.min < range.max, {
    message: 'min must be below max',
  });

export const GateCheckSchema = z.discriminatedUnion('kind', [
  /**
   * The members' joint energy (Wang et al. 2021): the mean over members of
   * sum over trained labels of log(1 + exp(logit)). An image far from training moves it.
   */
  z.object({ kind: z.literal('energy'), accepted: AcceptedRangeSchema, chosen: ThresholdChoiceSchema }).strict(),
  /** The members' disagreement: the mean over findings of max - min of their calibrated probabilities. */
  z.object({ kind: z.literal('disagreement'), accepted: AcceptedRangeSchema, chosen: ThresholdChoiceSchema }).strict(),
  /** The gate model's distance of the image from the training images in its feature space. */
  z
    .object({
      kind: z.literal('feature-distance'),
      /** The gate model's folder, relative to the pack folder. */
      model: id,
      accepted: AcceptedRangeSchema,
      chosen: ThresholdChoiceSchema,
    })
    .strict(),
  /** The gate model's reconstruction of the image: SSIM (Gaussian window, sigma 1.5) or RMSE. */
  z
    .object({
      kind: z.literal('reconstruction'),
      /** The gate model's folder, relative to the pack folder. */
      model: id,
      metric: z.enum(['ssim', 'rmse']),
      accepted: AcceptedRangeSchema,
      chosen: ThresholdChoiceSchema,
    })
    .strict(),
]);

/** The image-based input gate: every check must pass for the members' findings to be reported. */
export const ImageGateSchema = z
  .object({
    checks: z.array(GateCheckSchema).min(1),
    /** What the checks were chosen for, in words a reader of the pack's card understands. */
    description: z.string().min(1),
  })
  .strict()
  .refine((gate) => new Set(gate.checks.flatMap((c) => ('model' in c ? [c.model] : []))).size <= 1, {
    message: 'at most one gate model',
    path: ['checks'],
  });

/**
 * How a derived pack's operating points were chosen on a site's labelled images (`triage
 * calibrate`): its parent, the labels, the target, and per finding the threshold on the parent's
 * ensemble probability that became the members' new operating points.
 */
export const CalibrationProvenanceSchema = z
  .object({
    parent: z.object({ id, version: z.string().min(1), fingerprint: sha256 }).strict(),
    labels: z.object({ file: z.string().min(1), sha256, rows: z.number().int().nonnegative() }).strict(),
    images: z.number().int().nonnegative(),
    patients: z.number().int().nonnegative().nullable(),
    /** e.g. "youden", "sensitivity=0.9", "ppv=0.8". */
    target: z.string().min(1),
    method: z.string().min(1),
    /** ISO date-time. */
    date: z.string().min(1),
    software: z.string().min(1),
    findings: z.array(
      z
        .object({
          term: z.string().min(1),
          tree: TreeSchema,
          n: z.number().int().nonnegative(),
          positives: z.number().int().nonnegative(),
          /** calibrated: a new operating point; otherwise the parent's is kept, and why. */
          outcome: z.enum(['calibrated', 'target-unreachable', 'one-class']),
          /** The threshold on the parent's ensemble probability (null: kept). */
          threshold: z.number().nullable(),
          sensitivity: z.number().nullable(),
          specificity: z.number().nullable(),
          ppv: z.number().nullable(),
        })
        .strict(),
    ),
  })
  .strict();

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
    /** The image-based out-of-distribution gate; a pack without one says so in every result. */
    gate: ImageGateSchema.optional(),
    /** A pack derived by `triage calibrate`: where its operating points come from. */
    calibration: CalibrationProvenanceSchema.optional(),
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
export type GateModelManifest = z.infer<typeof GateModelManifestSchema>;
export type GateCheck = z.infer<typeof GateCheckSchema>;
export type ImageGate = z.infer<typeof ImageGateSchema>;
export type ThresholdChoice = z.infer<typeof ThresholdChoiceSchema>;
export type CalibrationProvenance = z.infer<typeof CalibrationProvenanceSchema>;
