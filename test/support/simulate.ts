/**
 * Seeded synthetic classifier outputs for the validation's tests: standard normal draws by
 * Box-Muller over mulberry32, and binormal scores (negatives N(0, 1), positives N(d, 1), whose
 * true AUC is Phi(d / sqrt(2))).
 */
import { mulberry32 } from '../../main/phantom/index.js';

/** A stream of standard normal draws (Box-Muller, both values of each pair used). */
export function normals(seed: number): () => number {
  const next = mulberry32(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const u = 1 - next(); // (0, 1]: log(u) is finite
    const radius = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * next();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** A probability shown to 4 decimals, as the product shows the ensemble's. */
export function fourDecimals(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * `positives` then `negatives` binormal scores with separation d, shown through `show`: by
 * default as 4-decimal probabilities (sigmoid of the score), so that ties occur as they do in the
 * product's output.
 */
export function binormal(
  draw: () => number,
  positives: number,
  negatives: number,
  d: number,
  show: (x: number) => number = (x) => fourDecimals(sigmoid(x)),
): { truth: number[]; scores: number[] } {
  const truth: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < positives + negatives; i++) {
    const positive = i < positives;
    truth.push(positive ? 1 : 0);
    scores.push(show(draw() + (positive ? d : 0)));
  }
  return { truth, scores };
}
