/**
 * The domain's values as zod schemas, each declared once; their TypeScript types are derived from
 * them. The engine reports them, the results store keeps them, the API contract sends them to the
 * window (validated in both processes). Only zod and main/common here: the Electron main process
 * loads this module too.
 */
import { z } from 'zod';
import { IMAGE_STATUSES, PRIORITIES, PROVIDERS, TREES, VERDICTS } from '../common/index.js';

export const TreeSchema = z.enum(TREES);
export const PrioritySchema = z.enum(PRIORITIES);
export const ProviderSchema = z.enum(PROVIDERS);
export const ImageStatusSchema = z.enum(IMAGE_STATUSES);
export const VerdictSchema = z.enum(VERDICTS);

const Count = z.number().int().nonnegative();

/** How many of the members that cover a finding voted it positive. */
export const VotesSchema = z.object({ positive: Count, total: Count });
export type Votes = z.output<typeof VotesSchema>;

/** The members' calibrated probabilities for a finding (0.5 is the operating point). */
export const ProbabilitySchema = z.object({ mean: z.number(), min: z.number(), max: z.number() });
export type Probability = z.output<typeof ProbabilitySchema>;

/** One PadChest term as the ensemble calls it on one image. */
export const FindingSchema = z.object({
  term: z.string(),
  cui: z.string().nullable(),
  tree: TreeSchema,
  positive: z.boolean(),
  /** False for a parent made positive by roll-up from a model finding below it. */
  direct: z.boolean(),
  votes: VotesSchema,
  /** Null for rolled-up parents no model covers. */
  probability: ProbabilitySchema.nullable(),
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
  probability: z.number().nullable(),
});

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
});
export type WorklistImage = z.output<typeof WorklistImageSchema>;

/** A study on the worklist: most urgent first, equal priorities oldest first. */
export const WorklistStudySchema = z.object({
  /** The study's key: its Study Instance UID, or `file:PATH` for an image without one. */
  study: z.string(),
  studyInstanceUID: z.string().nullable(),
  priority: PrioritySchema,
  firstSeenAt: z.string(),
  updatedAt: z.string(),
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
