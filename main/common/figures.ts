/**
 * How a validation's figures are written and where plot points sit, shared by the report
 * (main/validation/report.ts) and the app's Validation view, so that a figure reads and sits the
 * same in report.html and in the window. Pure functions: every process may load them.
 */

/** What a figure undefined on the data (null) is shown as. */
export const MISSING = '—';

/** The ROC plot in SVG units: its box, and its plot area's left and top edge and side. */
export const ROC_PLOT = { width: 440, height: 280, left: 40, top: 40, size: 200 } as const;

/** The reliability diagram, the same way (mean predicted on x, observed on y). */
export const RELIABILITY_PLOT = { width: 300, height: 320, left: 40, top: 40, size: 240 } as const;

/** A figure with its interval, as figures are written (value null: undefined on the data). */
export interface IntervalFigure {
  value: number | null;
  low: number | null;
  high: number | null;
}

/** A number with `digits` decimals (a minus sign, U+2212, when negative); "—" for null or not finite. */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `\u2212${text}` : text;
}

/** A signed number (+0.012, −0.004): for differences. */
export function formatSigned(value: number | null | undefined, digits = 3): string {
  const text = formatNumber(value, digits);
  return text === MISSING || text.startsWith('\u2212') ? text : `+${text}`;
}

/**
 * "0.912 [0.871–0.944]"; the value alone when it has no bounds; "—" when undefined. `signed` (for
 * differences) gives the value its sign: "+0.022 [0.011–0.033]", "−0.004 [−0.019–0.011]".
 */
export function formatInterval(interval: IntervalFigure, signed = false): string {
  if (interval.value === null || !Number.isFinite(interval.value)) return MISSING;
  const value = signed ? formatSigned(interval.value) : formatNumber(interval.value);
  if (interval.low === null || interval.high === null) return value;
  return `${value} [${formatNumber(interval.low)}\u2013${formatNumber(interval.high)}]`;
}

/** A count (an integer, as is); "—" when not a finite number. */
export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? MISSING : String(value);
}

/** A point of the ROC plot in SVG units: x = 40 + fpr x 200, y = 240 - tpr x 200. */
export function rocXY(fpr: number, tpr: number): { x: number; y: number } {
  return { x: ROC_PLOT.left + fpr * ROC_PLOT.size, y: ROC_PLOT.top + ROC_PLOT.size - tpr * ROC_PLOT.size };
}

/** A point of the reliability diagram in SVG units. */
export function reliabilityXY(predicted: number, observed: number): { x: number; y: number } {
  return {
    x: RELIABILITY_PLOT.left + predicted * RELIABILITY_PLOT.size,
    y: RELIABILITY_PLOT.top + RELIABILITY_PLOT.size - observed * RELIABILITY_PLOT.size,
  };
}

/** A scorer's (1 − specificity, sensitivity) from its decisions; null when either is undefined. */
export function confusionPoint(confusion: { tp: number; fp: number; fn: number; tn: number }): {
  fpr: number;
  tpr: number;
} | null {
  const positives = confusion.tp + confusion.fn;
  const negatives = confusion.fp + confusion.tn;
  if (!(positives > 0) || !(negatives > 0)) return null;
  return { fpr: confusion.fp / negatives, tpr: confusion.tp / positives };
}

const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

/**
 * The ROC curve's points as drawn: finite ones only, clipped to [0, 1], and without the points in
 * the middle of a vertical or horizontal run (sklearn's drop_intermediate=False keeps one point per
 * threshold; those in between draw nothing).
 */
export function rocPolylinePoints(
  roc: ReadonlyArray<{ fpr: number; tpr: number }>,
): Array<{ fpr: number; tpr: number }> {
  const points = roc
    .filter((p) => Number.isFinite(p.fpr) && Number.isFinite(p.tpr))
    .map((p) => ({ fpr: clamp01(p.fpr), tpr: clamp01(p.tpr) }));
  return points.filter((p, i) => {
    if (i === 0 || i === points.length - 1) return true;
    const before = points[i - 1];
    const after = points[i + 1];
    const vertical = before.fpr === p.fpr && after.fpr === p.fpr;
    const horizontal = before.tpr === p.tpr && after.tpr === p.tpr;
    return !vertical && !horizontal;
  });
}
