/**
 * The ensemble stage: each member's probabilities calibrated at its operating points, one vote
 * per member per finding, the voting rule that decides, and the ensemble's own calibrated
 * probability, which agrees with that decision. A finding's evidence lists every member that
 * covers it, so a radiologist sees "2 of 3 models" and each model's value.
 */
import type { Tree } from '../common/index.js';
import type { IndeterminateBand, Probability, Votes } from '../domain/index.js';
import type { LabelSpec, MemberManifest, VotingRule } from '../packs/index.js';

/**
 * TorchXRayVision's calibration: a piecewise-linear map that sends the operating point to 0.5,
 * [0, t] onto [0, 0.5] and [t, 1] onto [0.5, 1], so that "positive" is the same test (>= 0.5)
 * for every label and every model.
 */
export function calibrate(probability: number, operatingPoint: number): number {
  if (probability < operatingPoint) return probability / (2 * operatingPoint);
  return 1 - (1 - probability) / (2 * (1 - operatingPoint));
}

/** A probability's logit, clamped so that 0 and 1 stay finite. */
export function logit(probability: number): number {
  const p = Math.min(Math.max(probability, 1e-7), 1 - 1e-7);
  return Math.log(p / (1 - p));
}

export function sigmoid(logit: number): number {
  return 1 / (1 + Math.exp(-logit));
}

/** One member's calibrated probability per trained label (untrained heads are left out). */
export interface MemberScores {
  memberId: string;
  version: string;
  /** key: `${tree}:${term}` */
  calibrated: Map<string, number>;
  /** label index in the model's outputs, per key (for its heatmap). */
  labelIndex: Map<string, number>;
}

export function findingKey(label: Pick<LabelSpec, 'term' | 'tree'>): string {
  return `${label.tree}:${label.term}`;
}

/** Scores [labels] for one image from one member -> calibrated scores by finding. */
export function memberScores(
  manifest: MemberManifest,
  scores: ArrayLike<number>,
  kind: 'logits' | 'probabilities',
): MemberScores {
  const calibrated = new Map<string, number>();
  const labelIndex = new Map<string, number>();
  manifest.labels.forEach((label, index) => {
    if (!label.trained || label.operatingPoint === null) return;
    const raw = scores[index];
    const probability = kind === 'logits' ? sigmoid(raw) : raw;
    const value = calibrate(probability, label.operatingPoint);
    const key = findingKey(label);
    // Two outputs of one model mapped to one finding: the stronger speaks for the model.
    if (!calibrated.has(key) || value > calibrated.get(key)!) {
      calibrated.set(key, value);
      labelIndex.set(key, index);
    }
  });
  return { memberId: manifest.id, version: manifest.version, calibrated, labelIndex };
}

export interface Vote {
  term: string;
  tree: Tree;
  positive: boolean;
  votes: Votes;
  probability: Probability;
  perModel: Record<string, number>;
  /** Members whose vote was positive: their heatmaps make the ensemble's. */
  positiveMembers: string[];
}

export function decide(rule: VotingRule, positive: number, total: number, mean: number): boolean {
  switch (rule.kind) {
    case 'majority':
      return positive * 2 > total;
    case 'any':
      return positive > 0;
    case 'all':
      return positive === total;
    case 'soft-mean':
      return mean >= rule.threshold;
  }
}

/**
 * The ensemble's calibrated probability of a finding, from the covering members' calibrated
 * values (not empty) and their mean: the number shown beside the call. Defined per voting rule so
 * that `decide` calls the finding positive exactly when it is >= 0.5, as a member's value is:
 * - majority: the (floor(n/2) + 1)-th largest value, the smallest a majority reaches (odd n: the
 *   median; even n: the lower median, since 1 of 2 is no majority);
 * - any: the largest value; all: the smallest;
 * - soft-mean at threshold t: the mean calibrated at t (`calibrate(mean, t)`), as a member's
 *   probability is at its operating point.
 */
export function ensembleProbability(rule: VotingRule, values: readonly number[], mean: number): number {
  switch (rule.kind) {
    case 'majority':
      return [...values].sort((a, b) => b - a)[Math.floor(values.length / 2)];
    case 'any':
      return Math.max(...values);
    case 'all':
      return Math.min(...values);
    case 'soft-mean':
      return calibrate(mean, rule.threshold);
  }
}

/**
 * A calibrated probability as results report it: 4 decimals, never rounded up to 0.5 (0.49996
 * reads 0.4999), so a reported value is >= 0.5 exactly when the value computed is, and the call
 * and its number cannot disagree.
 */
export function reportedProbability(value: number): number {
  const rounded = Math.round(value * 10_000) / 10_000;
  return value < 0.5 && rounded >= 0.5 ? 0.4999 : rounded;
}

/** An ensemble probability (as reported) inside the band [low, high): shown as indeterminate. */
export function isIndeterminate(ensemble: number, band: IndeterminateBand): boolean {
  return ensemble >= band.low && ensemble < band.high;
}

/** The vote on every finding that at least one member covers, in a stable order. */
export function vote(members: MemberScores[], rule: VotingRule): Vote[] {
  const keys = [...new Set(members.flatMap((member) => [...member.calibrated.keys()]))].sort();
  return keys.map((key) => {
    const separator = key.indexOf(':');
    const tree = key.slice(0, separator) as Vote['tree'];
    const term = key.slice(separator + 1);
    const perModel: Record<string, number> = {};
    const positiveMembers: string[] = [];
    const values: number[] = [];
    let sum = 0;
    for (const member of members) {
      const value = member.calibrated.get(key);
      if (value === undefined) continue;
      perModel[member.memberId] = value;
      values.push(value);
      sum += value;
      if (value >= 0.5) positiveMembers.push(member.memberId);
    }
    const total = values.length;
    const mean = sum / total;
    return {
      term,
      tree,
      positive: decide(rule, positiveMembers.length, total, mean),
      votes: { positive: positiveMembers.length, total },
      probability: {
        ensemble: ensembleProbability(rule, values, mean),
        mean,
        min: Math.min(...values),
        max: Math.max(...values),
      },
      perModel,
      positiveMembers,
    };
  });
}
