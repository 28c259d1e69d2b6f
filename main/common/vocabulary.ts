/**
 * The product's small vocabularies, one list each; the zod schemas (main/domain), the results
 * database's CHECK constraints, the engine, the CLI and the renderer all read these.
 */

/** What became of one image: analysed, refused by the gate, unreadable, or a copy of another. */
export const IMAGE_STATUSES = ['ok', 'rejected', 'error', 'duplicate'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** The statuses the engine itself reports (a duplicate is the scan's finding, not the engine's). */
export const ANALYSIS_STATUSES = ['ok', 'rejected', 'error'] as const satisfies readonly ImageStatus[];
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

/** The two trees of the PadChest hierarchy. */
export const TREES = ['finding', 'diagnosis'] as const;
export type Tree = (typeof TREES)[number];

/** A reader's verdict on one finding. */
export const VERDICTS = ['agree', 'disagree'] as const;
export type Verdict = (typeof VERDICTS)[number];
