/**
 * How the Validation view writes figures and places plot points: the same text and geometry as
 * the validation report (main/validation/report.ts, which the renderer cannot import), so that a
 * figure reads and sits the same in the window and in report.html. Pure functions, no DOM.
 */

/** What a figure undefined on these data reads as. */
export const MISSING = '—';

/** The ROC plot's box in SVG units: the plot area's left and top edge and its side (fpr, tpr in [0, 1]). */
export const ROC_PLOT = { width: 440, height: 280, left: 40, top: 40, size: 200 } as const;
/** The reliability diagram's box, the same way (mean predicted on x, observed on y). */
export const RELIABILITY_PLOT = { width: 300, height: 320, left: 40, top: 40, size: 240 } as const;

export interface IntervalLike {
  value: number | null;
  low: number | null;
  high: number | null;
}

/** A number to 3 decimals, a true minus sign for negatives; "—" when none. */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `\u2212${text}` : text;
}

/** A figure with its 95 % interval: "0.912 [0.871–0.944]"; the value alone without bounds; "—" when none. */
export function formatInterval(interval: IntervalLike): string {
  if (interval.value === null || !Number.isFinite(interval.value)) return MISSING;
  const value = formatNumber(interval.value);
  if (interval.low === null || interval.high === null) return value;
  return `${value} [${formatNumber(interval.low)}\u2013${formatNumber(interval.high)}]`;
}

const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

/** A ROC point in SVG units: x = 40 + fpr·200, y = 240 − tpr·200 (clipped to the plot). */
export function rocXY(fpr: number, tpr: number): { x: number; y: number } {
  return {
    x: ROC_PLOT.left + clamp01(fpr) * ROC_PLOT.size,
    y: ROC_PLOT.top + ROC_PLOT.size - clamp01(tpr) * ROC_PLOT.size,
  };
}

/** A reliability diagram point in SVG units. */
export function reliabilityXY(predicted: number, observed: number): { x: number; y: number } {
  return {
    x: RELIABILITY_PLOT.left + clamp01(predicted) * RELIABILITY_PLOT.size,
    y: RELIABILITY_PLOT.top + RELIABILITY_PLOT.size - clamp01(observed) * RELIABILITY_PLOT.size,
  };
}

/** A member's operating point from its confusion counts; null without both classes. */
export function confusionPoint(confusion: { tp: number; fp: number; fn: number; tn: number }): {
  fpr: number;
  tpr: number;
} | null {
  const positives = confusion.tp + confusion.fn;
  const negatives = confusion.fp + confusion.tn;
  if (!(positives > 0) || !(negatives > 0)) return null;
  return { fpr: confusion.fp / negatives, tpr: confusion.tp / positives };
}

/**
 * The ROC curve's points as drawn: finite ones, without those in the middle of a vertical or
 * horizontal run (they draw nothing), as the report draws them.
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
    return !(before.fpr === p.fpr && after.fpr === p.fpr) && !(before.tpr === p.tpr && after.tpr === p.tpr);
  });
}

/** "a: 2, b: 1" of counts by key, most first; "none" when empty. */
export function countsText(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key}: ${n}`).join(', ');
}
