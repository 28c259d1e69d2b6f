/**
 * How a finding's call reads as text, the same in the CLI's worklist, the CSV export and the
 * window. Its number is the ensemble's calibrated probability (0.5 is the operating point), which
 * is >= 0.5 exactly when the vote calls the finding positive.
 *
 *   mass (3/3, 97%)                               called, outside the indeterminate band
 *   pleural effusion: indeterminate (2/3, 52%)    called (or not) with the value inside the band
 *   nodule: not assessed                          no member was trained on the term
 *
 * The vote decides and sets the priority; "indeterminate" tells the reader that the value lies
 * close to the operating point, whichever side the call is on.
 */

/** What the wording needs of a finding: a worklist finding, or a result's finding mapped. */
export interface FindingCall {
  term: string;
  votes: { positive: number; total: number };
  /** The ensemble probability; null when there is none to state. */
  probability: number | null;
  indeterminate: boolean;
  /** False for a term no member assesses. */
  assessed?: boolean;
}

/**
 * A calibrated probability (as results report it, to 4 decimals) as a whole percent, rounded
 * down, and below 0.5 never shown as 50%: a value reads as reaching the operating point, or the
 * edge of a band in whole percents, only when it does (0.4999 reads 49%, 0.5999 reads 59%).
 */
export function percentOf(probability: number): string {
  const basisPoints = Math.round(probability * 10_000);
  const kept = probability < 0.5 ? Math.min(basisPoints, 4999) : basisPoints;
  return `${Math.floor(kept / 100)}%`;
}

/** One finding's call as text; `value` writes the probability (a percent by default). */
export function findingText(finding: FindingCall, value: (probability: number) => string = percentOf): string {
  if (finding.assessed === false) return `${finding.term}: not assessed`;
  const figures = `${finding.votes.positive}/${finding.votes.total}${finding.probability === null ? '' : `, ${value(finding.probability)}`}`;
  return finding.indeterminate ? `${finding.term}: indeterminate (${figures})` : `${finding.term} (${figures})`;
}
