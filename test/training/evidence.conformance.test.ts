/**
 * The demonstration pack's evidence (models/packs/demo/evidence/, evaluation.json) against an
 * independent implementation: models/training/recompute_evidence.py, numpy and scikit-learn.
 * scikit-learn's f1_score (micro) and roc_auc_score agree with metrics.ts on the stored per-image
 * outputs; the script recomputes every figure of evaluation.json from those outputs, to the bit,
 * and so does evidence.ts; the stored votes and decisions follow from the stored logits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { computeFigures } from '../../models/training/evidence.js';
import type { EvidenceOutputs, Figures, ValidationOutputs } from '../../models/training/evidence.js';
import { auc, microF1 } from '../../main/validation/index.js';
import { aptCommand, missingPythonModules, PYTHON, REFERENCE_PYTHON_MODULES } from '../support/reference-tools.js';

const PACK = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../models/training/recompute_evidence.py', import.meta.url));
const read = <T>(name: string): T => JSON.parse(readFileSync(`${PACK}${name}`, 'utf8')) as T;
const validation = read<ValidationOutputs>('evidence/validation-outputs.json');
const evidence = read<EvidenceOutputs>('evidence/evidence-outputs.json');
const evaluation = read<{ bootstrap: { resamples: number; seed: number }; figures: Figures }>('evaluation.json');
const CONFIG = JSON.parse(readFileSync(new URL('../../models/training/config.json', import.meta.url), 'utf8')) as {
  splits: Record<string, { seed: number; count: number; shards?: number }>;
};

interface Recomputed {
  figures: Figures;
  sklearn: { microF1: Record<string, number>; auc: Record<string, Record<string, number>> };
  checks: {
    voteMismatches: number;
    decisionMismatches: number;
    largestScoreDifference: number;
    largestDifferenceFromScikitLearn: number;
  };
}

let recomputed: Recomputed | undefined;
/** The script's output, run once for every test below. */
function python(): Recomputed {
  if (recomputed) return recomputed;
  const missing = missingPythonModules(
    ['numpy', 'sklearn'],
    (code) => spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0,
  );
  if (missing.length > 0)
    assert.fail(
      `${PYTHON} cannot import ${missing.join(', ')}: ${aptCommand(missing.map((m) => REFERENCE_PYTHON_MODULES[m].package))} (or npm run test:tools).`,
    );
  const run = spawnSync(PYTHON, [SCRIPT, '--pack', PACK, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, `recompute_evidence.py failed:\n${run.stderr}`);
  recomputed = JSON.parse(run.stdout) as Recomputed;
  return recomputed;
}

const truth = evidence.rows.map((row) => row.truth.map((v) => v > 0));
const column = (k: number) => truth.map((row) => row[k]);

test("scikit-learn's micro-F1 equals metrics.ts on the stored calls of the ensemble and of each member", () => {
  const { sklearn, figures } = python();
  const calls: Record<string, number[][]> = {
    ensemble: evidence.rows.map((row) => row.ensembleCalls),
    ...Object.fromEntries(
      evidence.members.map((m) => [`${m} shipped`, evidence.rows.map((row) => row.shippedCalls[m])]),
    ),
  };
  for (const [name, matrix] of Object.entries(calls)) {
    const ours = microF1(
      truth,
      matrix.map((row) => row.map((v) => v > 0)),
    ).f1;
    assert.ok(
      Math.abs(ours - sklearn.microF1[name]) < 1e-12,
      `${name}: ${ours} against scikit-learn's ${sklearn.microF1[name]}`,
    );
  }
  // The best-F1 calls are the script's own (from its own operating points): compare the figures.
  for (const m of evidence.members)
    assert.ok(Math.abs(figures.members[m].bestF1.microF1.value - sklearn.microF1[`${m} best-F1`]) < 1e-12, m);
});

test("scikit-learn's roc_auc_score equals metrics.ts's AUC for every finding, the untrained nodule heads included", () => {
  const { sklearn } = python();
  const scores: Record<string, number[][]> = {
    ensemble: evidence.rows.map((row) => row.ensembleScore),
    ...Object.fromEntries(evidence.members.map((m) => [m, evidence.rows.map((row) => row.logits[m])])),
  };
  for (const [model, matrix] of Object.entries(scores)) {
    evidence.labels.forEach((term, k) => {
      const ours = auc(
        column(k),
        matrix.map((row) => row[k]),
      );
      assert.ok(
        ours !== null && Math.abs(ours - sklearn.auc[model][term]) < 1e-12,
        `${model} ${term}: ${ours} against ${sklearn.auc[model][term]}`,
      );
    });
  }
  assert.equal(Object.keys(sklearn.auc.ensemble).length, 7);
});

test('recompute_evidence.py recomputes every figure of evaluation.json from the stored outputs, to the bit', () => {
  const { figures } = python();
  assert.deepStrictEqual(figures, evaluation.figures);
});

test('evidence.ts recomputes the same figures from the stored outputs', () => {
  assert.deepStrictEqual(computeFigures(validation, evidence, evaluation.bootstrap), evaluation.figures);
});

test("the stored votes, decisions and scores follow from the stored logits and the members' operating points", () => {
  const { checks } = python();
  assert.equal(checks.voteMismatches, 0);
  assert.equal(checks.decisionMismatches, 0);
  // The ensemble's score is the Engine's 4-decimal ensemble probability (never rounded up to 0.5,
  // so 0.49995 reads 0.4999): within 1e-4 of the members' median.
  assert.ok(checks.largestScoreDifference <= 1e-4 + 1e-9, String(checks.largestScoreDifference));
});

test('the outputs are the splits config.json names, and the evidence seed is no other split’s', () => {
  assert.equal(validation.seed, CONFIG.splits.validation.seed);
  assert.equal(validation.rows.length, CONFIG.splits.validation.count);
  assert.equal(evidence.seed, CONFIG.splits.evidence.seed);
  assert.equal(evidence.rows.length, CONFIG.splits.evidence.count);
  const others = Object.entries(CONFIG.splits)
    .filter(([name]) => name !== 'evidence')
    .flatMap(([, split]) => Array.from({ length: split.shards ?? 1 }, (_, k) => split.seed + k));
  assert.ok(!others.includes(evidence.seed), `seed ${evidence.seed} is also ${others.join(', ')}`);
});
