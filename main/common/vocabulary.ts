/**
 * The product's small vocabularies, one list each, with their types derived: the zod schemas
 * (main/domain), the engine, the store, the CLI and the renderer read these. (The results
 * database's CHECK constraints repeat some of them in SQL: migrations are frozen once shipped.)
 */

/** What became of one image: analysed, refused by the gate, unreadable, or a copy of another. */
export const IMAGE_STATUSES = ['ok', 'rejected', 'error', 'duplicate'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** The statuses the engine itself reports (a duplicate is the scan's finding, not the engine's). */
export const ANALYSIS_STATUSES = ['ok', 'rejected', 'error'] as const satisfies readonly ImageStatus[];
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

/**
 * How every refusal by a pack's image-based (out-of-distribution) gate begins, so that a reader
 * of the reason alone (an export, the worklist text) can tell it from the metadata gate's. The app
 * reads the result's gate report instead.
 */
export const OUT_OF_DISTRIBUTION_REASON = "outside this pack's training distribution";

/** The two trees of the PadChest hierarchy. */
export const TREES = ['finding', 'diagnosis'] as const;
export type Tree = (typeof TREES)[number];

/** A reader's verdict on one finding. */
export const VERDICTS = ['agree', 'disagree'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The file formats a radiograph is read from (by content, never by extension). */
export const SOURCE_FORMATS = ['dicom', 'png', 'jpeg'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** Where a display window came from, so a viewer can say why the image looks as it does. */
export const WINDOW_SOURCES = ['dicom-window', 'voi-lut', 'automatic', 'bit-depth'] as const;
export type WindowSource = (typeof WINDOW_SOURCES)[number];

/** How a folder scan ended: every file done, stopped by the user, or stopped by an error. */
export const SCAN_OUTCOMES = ['completed', 'interrupted', 'failed'] as const;
export type ScanOutcome = (typeof SCAN_OUTCOMES)[number];

/** What the open dialog lets the user pick to scan. */
export const DIALOG_KINDS = ['files', 'folder'] as const;
export type DialogKind = (typeof DIALOG_KINDS)[number];

/** What the open dialog may be asked for: radiographs to scan (DIALOG_KINDS), or a labels file (one CSV). */
export const CHOOSER_KINDS = [...DIALOG_KINDS, 'labels'] as const;
export type ChooserKind = (typeof CHOOSER_KINDS)[number];
