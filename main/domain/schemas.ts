/**
 * The engine's values as zod schemas (results, findings, the worklist, pixels), each declared once;
 * their TypeScript types are derived from them. Exported through index.ts.
 */
import { z } from 'zod';
import {
  ANALYSIS_STATUSES,
  ERROR_CODES,
  IMAGE_STATUSES,
  PRIORITIES,
  PROVIDERS,
  SOURCE_FORMATS,
  TREES,
  VERDICTS,
  WINDOW_SOURCES,
} from '../common/index.js';
import type { ErrorCode } from '../common/index.js';

export const TreeSchema = z.enum(TREES);
export const PrioritySchema = z.enum(PRIORITIES);
export const ProviderSchema = z.enum(PROVIDERS);
export const ImageStatusSchema = z.enum(IMAGE_STATUSES);
export const VerdictSchema = z.enum(VERDICTS);
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

const Count = z.number().int().nonnegative();

/** A failure a user can meet, as one result or answer carries it: a code and what to do. */
export const CodedErrorSchema = z.object({ code: ErrorCodeSchema, message: z.string() });
export type CodedFailure = z.output<typeof CodedErrorSchema>;

/** How many of the members that cover a finding voted it positive. */
export const VotesSchema = z.object({ positive: Count, total: Count });
export type Votes = z.output<typeof VotesSchema>;

/**
 * A finding's calibrated probabilities (0.5 is the operating point), to 4 decimals, never rounded
 * across 0.5. `ensemble` is the number shown: the ensemble's own, defined per voting rule so that
 * the vote is positive exactly when it is >= 0.5 (main/ensemble's ensembleProbability); beside it
 * the covering members' mean, min and max.
 */
export const ProbabilitySchema = z.object({
  ensemble: z.number(),
  mean: z.number(),
  min: z.number(),
  max: z.number(),
});
export type Probability = z.output<typeof ProbabilitySchema>;

/**
 * The ensemble probabilities too close to the operating point to call with confidence, [low,
 * high): 0 < low <= 0.5 <= high < 1 (low = high = 0.5 is no band). A pack declares it
 * (ensemble.json); every result records it. The vote still decides positive or negative and the
 * priority; a finding whose ensemble probability lies inside is shown as indeterminate.
 */
export const IndeterminateBandSchema = z.object({
  low: z.number().gt(0).lte(0.5),
  high: z.number().gte(0.5).lt(1),
});
export type IndeterminateBand = z.output<typeof IndeterminateBandSchema>;

/** One PadChest term as the ensemble calls it on one image. */
export const FindingSchema = z.object({
  term: z.string(),
  cui: z.string().nullable(),
  tree: TreeSchema,
  positive: z.boolean(),
  /** False for a parent made positive by roll-up from a model finding below it, and when not assessed. */
  direct: z.boolean(),
  /**
   * False for a term the pack's members declare but none was trained on: shown as "not assessed",
   * never positive, votes 0 of 0, no probability, out of triage and heatmaps.
   */
  assessed: z.boolean(),
  votes: VotesSchema,
  /**
   * Null for rolled-up parents no model covers and for findings not assessed (and for results
   * stored before schema 3 under a soft-mean rule, whose threshold was not stored).
   */
  probability: ProbabilitySchema.nullable(),
  /** The ensemble probability lies in the pack's indeterminate band: the call stands, shown as indeterminate. */
  indeterminate: z.boolean(),
  /** Each member's calibrated probability, by model id. */
  perModel: z.record(z.string(), z.number()),
  /** For rolled-up parents: the model findings below it that are positive. */
  supportedBy: z.array(z.string()),
  /** Paths from a taxonomy root to the term (the tree the findings panel draws). */
  paths: z.array(z.array(z.string())),
});
export type Finding = z.output<typeof FindingSchema>;

/** A model behind a result: its identity, file hash and operating point per trained label. */
export const ModelProvenanceSchema = z.object({
  id: z.string(),
  version: z.string(),
  sha256: z.string(),
  operatingPoints: z.record(z.string(), z.number()),
});
export type ModelProvenance = z.output<typeof ModelProvenanceSchema>;

/** A positive finding the models called directly, as the worklist lists it. */
export const WorklistFindingSchema = z.object({
  term: z.string(),
  tree: TreeSchema,
  votes: VotesSchema,
  /** The ensemble probability (see ProbabilitySchema). */
  probability: z.number().nullable(),
  indeterminate: z.boolean(),
});

/** A term of an image that no model assessed (see FindingSchema's `assessed`). */
export const FindingRefSchema = z.object({ term: z.string(), tree: TreeSchema });

/** One image of a worklist study. */
export const WorklistImageSchema = z.object({
  file: z.string(),
  sopInstanceUID: z.string().nullable(),
  status: ImageStatusSchema,
  priority: PrioritySchema.nullable(),
  /** Why the gate rejected it, or what broke; null when analysed. */
  reason: z.string().nullable(),
  /** A demonstration pack produced it, or a model says not for clinical use. */
  notForClinicalUse: z.boolean(),
  findings: z.array(WorklistFindingSchema),
  /** The terms the pack declares but no model assessed. */
  notAssessed: z.array(FindingRefSchema),
});
export type WorklistImage = z.output<typeof WorklistImageSchema>;

/** An identity value as shown: sanitised and bounded when read (main/ingest), bounded again here. */
const IdentityText = z.string().max(256);

/**
 * Who a study is of, as the worklist and the viewer show it (read from the study's DICOM files;
 * see main/common/identity.ts for where it may and may not be written).
 */
export const PatientSchema = z.object({
  /** Patient's Name for display ("FAMILY, Given"). */
  name: IdentityText.nullable(),
  id: IdentityText.nullable(),
  /** Issuer of Patient ID. */
  issuer: IdentityText.nullable(),
  sex: z.enum(['M', 'F', 'O']).nullable(),
  /** A DICOM age string: "058Y", "006M", "003W", "010D". */
  age: z
    .string()
    .regex(/^\d{3}[DWMY]$/)
    .nullable(),
  /** The age was derived from the birth date and the study date (the file states none). */
  ageDerived: z.boolean(),
});
export type Patient = z.output<typeof PatientSchema>;

/** A study's patient and examination: null where the files say nothing (PNG, JPEG, no such attribute). */
export const StudyIdentitySchema = z.object({
  patient: PatientSchema.nullable(),
  accessionNumber: IdentityText.nullable(),
  /** YYYY-MM-DD. */
  studyDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .nullable(),
  /** HH:MM or HH:MM:SS. */
  studyTime: z
    .string()
    .regex(/^\d{2}:\d{2}(:\d{2})?$/)
    .nullable(),
  studyDescription: IdentityText.nullable(),
});
export type StudyIdentityRecord = z.output<typeof StudyIdentitySchema>;

/** A study on the worklist: most urgent first, equal priorities oldest first. */
export const WorklistStudySchema = z.object({
  /** The study's key: its Study Instance UID, or `file:PATH` for an image without one. */
  study: z.string(),
  studyInstanceUID: z.string().nullable(),
  priority: PrioritySchema,
  firstSeenAt: z.string(),
  updatedAt: z.string(),
  ...StudyIdentitySchema.shape,
  images: z.array(WorklistImageSchema),
});
export type WorklistStudy = z.output<typeof WorklistStudySchema>;

/** The reader's current verdict on one finding of an image, and when it was given. */
export const CurrentVerdictSchema = z.object({
  term: z.string(),
  tree: TreeSchema,
  verdict: VerdictSchema,
  at: z.string(),
});
export type CurrentVerdict = z.output<typeof CurrentVerdictSchema>;

/**
 * The pack behind a result: its identity, voting rule and indeterminate band, and whether it is a
 * demonstration.
 */
export const PackRefSchema = z.object({
  id: z.string(),
  version: z.string(),
  rule: z.string(),
  indeterminate: IndeterminateBandSchema,
  demo: z.boolean(),
  /**
   * SHA-256 of the pack's image-based gate (its checks, accepted ranges and gate model file); null
   * for a pack without one. Absent in results stored before gates existed.
   */
  gate: z.string().nullable().optional(),
});
export type PackRef = z.output<typeof PackRefSchema>;

/** One check of a pack's image-based gate on one image: its score and the range it must lie in. */
export const GateCheckOutcomeSchema = z.object({
  check: z.string(),
  score: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  passed: z.boolean(),
});

/** The image-based gate's verdict on an image the metadata gate accepted. */
export const GateReportSchema = z.object({ passed: z.boolean(), checks: z.array(GateCheckOutcomeSchema) });
export type GateReport = z.output<typeof GateReportSchema>;

/** Where one image's time went, in milliseconds. */
export const TimingsSchema = z.object({
  decodeMs: z.number(),
  preprocessMs: z.number(),
  inferenceMs: z.number(),
  explainMs: z.number(),
});
export type Timings = z.output<typeof TimingsSchema>;

/**
 * What the engine reports for one radiograph (the analyze command's NDJSON line, the store's
 * row, the app's result): the findings with the pack, models, versions, file hashes, operating
 * points and provider that produced them.
 */
export const AnalysisResultSchema = z.object({
  file: z.string(),
  status: z.enum(ANALYSIS_STATUSES),
  /** Why the gate rejected the image. */
  reason: z.string().optional(),
  /** What broke, for an unreadable image. */
  error: CodedErrorSchema.optional(),
  sopInstanceUID: z.string().nullable(),
  studyInstanceUID: z.string().nullable(),
  executionProvider: ProviderSchema,
  pack: PackRefSchema,
  models: z.array(ModelProvenanceSchema),
  notForClinicalUse: z.boolean(),
  notes: z.array(z.string()),
  findings: z.array(FindingSchema),
  /** Heatmap overlay files written, by finding key. */
  heatmaps: z.record(z.string(), z.string()).optional(),
  /**
   * The pack's image-based gate on this image (absent: the image never reached the models, or
   * the pack has no image-based gate, which a note then says).
   */
  gate: GateReportSchema.optional(),
  timings: TimingsSchema,
});
export type AnalysisResult = z.output<typeof AnalysisResultSchema>;

/** One stored result, as exports and the app read it back. */
export const StoredResultSchema = z.object({
  id: Count,
  file: z.string(),
  sha256: z.string().nullable(),
  size: z.number().nullable(),
  format: z.enum(SOURCE_FORMATS).nullable(),
  status: ImageStatusSchema,
  /** Why the gate rejected it, or why it is a duplicate; null when analysed. */
  reason: z.string().nullable(),
  error: CodedErrorSchema.nullable(),
  /** The path of the image this one duplicates. */
  duplicateOf: z.string().nullable(),
  sopInstanceUID: z.string().nullable(),
  studyInstanceUID: z.string().nullable(),
  /** The study's key: its Study Instance UID, or `file:PATH`. */
  study: z.string(),
  priority: PrioritySchema.nullable(),
  executionProvider: ProviderSchema,
  pack: PackRefSchema.extend({ fingerprint: z.string() }),
  models: z.array(ModelProvenanceSchema),
  notForClinicalUse: z.boolean(),
  rulesFingerprint: z.string(),
  notes: z.array(z.string()),
  findings: z.array(FindingSchema),
  heatmaps: z.record(z.string(), z.string()).nullable(),
  /** The image-based gate's report; null when the image never reached the models or none was stored. */
  gate: GateReportSchema.nullable(),
  timings: TimingsSchema.nullable(),
  scannedAt: z.string(),
  scanId: Count.nullable(),
});
export type StoredResult = z.output<typeof StoredResultSchema>;

/** A folder scan's progress: files done of the total, the rate and the time left. */
export const ScanProgressSchema = z.object({
  done: Count,
  /** Files and errors to go through; null until the count has finished (or while watching). */
  total: Count.nullable(),
  /** Files per second over the scan so far. */
  rate: z.number(),
  etaSeconds: z.number().nullable(),
  analysed: Count,
});
export type ScanProgress = z.output<typeof ScanProgressSchema>;

/** The sample types the viewer's stored values come in. */
export const PIXEL_TYPES = ['uint16', 'int16', 'int32'] as const;

/**
 * A radiograph's pixels as the viewer wants them: integer stored values (modality = stored *
 * slope + intercept), padding made black under any sensible window.
 */
export const StoredPixelsSchema = z.object({
  /** rows x columns stored values, row-major, little-endian, of `pixelType`. */
  pixels: z.instanceof(ArrayBuffer),
  pixelType: z.enum(PIXEL_TYPES),
  slope: z.number(),
  intercept: z.number(),
  /** Smallest and largest stored value in `pixels` (padding included). */
  minStored: z.number().int(),
  maxStored: z.number().int(),
  /** Smallest and largest modality value of the image itself (padding excluded): a full-range window. */
  modalityRange: z.object({ min: z.number(), max: z.number() }),
});
export type StoredPixels = z.output<typeof StoredPixelsSchema>;

/** A decoded radiograph for the viewer: its stored values with the display window the file asks for. */
export const RenderedImageSchema = StoredPixelsSchema.extend({
  file: z.string(),
  rows: z.number().int().positive(),
  columns: z.number().int().positive(),
  window: z.object({ center: z.number(), width: z.number(), source: z.enum(WINDOW_SOURCES) }),
  /** The file's VOI LUT (modality values from firstMapped -> entries), when it has one. */
  voiLut: z
    .object({ firstMapped: z.number().int(), bitsPerEntry: z.number().int(), data: z.instanceof(ArrayBuffer) })
    .nullable(),
  /** MONOCHROME1: low values are bright. */
  invert: z.boolean(),
  photometric: z.string(),
  bitsStored: z.number().int(),
  /** Row then column spacing in mm, when known. */
  pixelSpacing: z.tuple([z.number(), z.number()]).nullable(),
  format: z.enum(SOURCE_FORMATS),
  transferSyntax: z.string().nullable(),
  modality: z.string().nullable(),
  viewPosition: z.string().nullable(),
  decodeMs: z.number(),
});
export type RenderedImage = z.output<typeof RenderedImageSchema>;
