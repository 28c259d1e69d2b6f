/**
 * The validation's figures (main/validation) against scikit-learn, scipy and numpy on the same
 * seeded synthetic data (binormal scores shown to 4 decimals, as the product shows its
 * probabilities, so with ties; a set of scores on the bin edges 0, 0.1, ..., 1; sizes 12 to
 * 2,000): roc_auc_score, roc_curve(drop_intermediate=False), confusion_matrix, precision, recall
 * and F1 at a threshold, f1_score micro and macro on a multi-label matrix, brier_score_loss,
 * calibration_curve(n_bins=10, strategy='uniform'), scipy's Wilson interval and normal quantile;
 * DeLong's covariance and the paired difference's variance against the textbook formula written
 * here in numpy (the pairwise kernel psi over all m x n pairs, not the mid-ranks); the operating
 * points against a brute force over every threshold in exact fractions. All to 1e-9 (the DeLong
 * variances to 1e-9 relative).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  auc,
  brierScore,
  chooseThreshold,
  confusion,
  delong,
  delongDifference,
  delongInterval,
  expectedCalibrationError,
  f1FromCounts,
  macroF1,
  microF1,
  normalQuantile,
  parseCalibrationTarget,
  reliability,
  rocCurve,
  wilson,
} from '../../main/validation/index.js';
import { aptCommand, missingPythonModules, PYTHON, REFERENCE_PYTHON_MODULES } from '../support/reference-tools.js';
import { fourDecimals, normals, sigmoid } from '../support/simulate.js';

interface Case {
  name: string;
  truth: number[];
  a: number[];
  b: number[];
  threshold: number;
}

const TARGETS = ['youden', 'sensitivity=0.8', 'sensitivity=0.95', 'ppv=0.5', 'ppv=0.7', 'ppv=0.9'];

function cases(): Case[] {
  const draw = normals(20261207);
  const make = (name: string, positives: number, negatives: number, d: number, round = fourDecimals): Case => {
    const truth = Array.from({ length: positives + negatives }, (_, i) => (i < positives ? 1 : 0));
    const latent = truth.map((t) => draw() + d * t);
    // A second scorer correlated with the first, as two members of one ensemble are.
    const b = latent.map((x, i) => round(sigmoid(0.7 * x + 0.7 * draw() + 0.3 * truth[i])));
    return { name, truth, a: latent.map((x) => round(sigmoid(x))), b, threshold: 0.5 };
  };
  const tenths = (x: number) => Math.round(x * 10) / 10;
  return [
    make('12 images', 4, 8, 1),
    make('57 images, scores to one decimal (many ties, every bin edge)', 20, 37, 0.8, tenths),
    make('300 images', 90, 210, 1.2),
    { ...make('2,000 images', 300, 1700, 1.5), threshold: 0.3 },
    make('150 images, weak', 60, 90, 0.3),
    edges(draw),
  ];
}

/**
 * 44 images scored on the bin edges in both of their floating-point forms: k / 10 (0.3) and
 * numpy's linspace edge k x 0.1 (0.30000000000000004), which scikit-learn bins apart.
 */
function edges(draw: () => number): Case {
  const a = Array.from({ length: 44 }, (_, i) => (i % 22 < 11 ? (i % 11) / 10 : (i % 11) * 0.1));
  const truth = a.map((p) => (sigmoid(3 * (p - 0.5) + draw()) > 0.5 ? 1 : 0));
  return { name: '44 images on the bin edges', truth, a, b: a.map((p) => fourDecimals(1 - p)), threshold: 0.5 };
}

const SCRIPT = String.raw`
import json, sys
from fractions import Fraction
import numpy as np
from scipy.special import ndtri
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (brier_score_loss, confusion_matrix, f1_score, precision_score,
                             recall_score, roc_auc_score, roc_curve)

data = json.load(sys.stdin)

def delong_textbook(truth, scorers):
    # DeLong et al. (1988): V10_i = mean_j psi(X_i, Y_j), V01_j = mean_i psi(X_i, Y_j),
    # psi(x, y) = 1 if x > y, 1/2 if x = y, 0 otherwise; S = S10 / m + S01 / n.
    positive = np.asarray(truth) == 1
    aucs, v10, v01 = [], [], []
    for s in scorers:
        s = np.asarray(s, dtype=float)
        x, y = s[positive], s[~positive]
        psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = positive.sum(), (~positive).sum()
    s = np.cov(np.vstack(v10)) / m + np.cov(np.vstack(v01)) / n
    contrast = np.array([1.0, -1.0])
    return aucs, s.tolist(), float(contrast @ s @ contrast)

def choose(truth, scores, target):
    truth = np.asarray(truth) == 1
    scores = np.asarray(scores)
    p, n = int(truth.sum()), int((~truth).sum())
    rows = []
    for t in sorted(set(scores.tolist()), reverse=True):
        called = scores >= t
        rows.append((t, int((called & truth).sum()), int((called & ~truth).sum())))
    if target == 'youden':
        best = max(rows, key=lambda r: (Fraction(r[1], p) - Fraction(r[2], n), r[0]))
    else:
        kind, value = target.split('=')
        value = Fraction(value)
        if kind == 'sensitivity':
            ok = [r for r in rows if Fraction(r[1], p) >= value]
            best = max(ok, key=lambda r: r[0]) if ok else None
        else:
            ok = [r for r in rows if Fraction(r[1], r[1] + r[2]) >= value]
            best = max(ok, key=lambda r: (r[1], r[0])) if ok else None
    return None if best is None else {'threshold': best[0], 'tp': best[1], 'fp': best[2]}

out = {'cases': []}
for c in data['cases']:
    truth, a, b = np.asarray(c['truth']), np.asarray(c['a']), np.asarray(c['b'])
    fpr, tpr, thresholds = roc_curve(truth, a, drop_intermediate=False)
    # scikit-learn 1.3 and later put +inf first; 1.2 and earlier the highest score + 1.
    first = 'inf' if np.isinf(thresholds[0]) else ('max+1' if thresholds[0] == thresholds[1] + 1 else 'other')
    called = (a >= c['threshold']).astype(int)
    tn, fp, fn, tp = confusion_matrix(truth, called, labels=[0, 1]).ravel()
    prob_true, prob_pred = calibration_curve(truth, a, n_bins=10, strategy='uniform')
    ids = np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], a)
    total = np.bincount(ids, minlength=10)
    ece = float(np.sum(total[total > 0] * np.abs(prob_true - prob_pred)) / len(a))
    aucs, covariance, difference = delong_textbook(truth, [a, b])
    out['cases'].append({
        'auc': roc_auc_score(truth, a),
        'roc': {'fpr': fpr.tolist(), 'tpr': tpr.tolist(), 'thresholds': thresholds[1:].tolist(), 'first': first},
        'confusion': {'tp': int(tp), 'fp': int(fp), 'fn': int(fn), 'tn': int(tn)},
        'precision': precision_score(truth, called), 'recall': recall_score(truth, called),
        'f1': f1_score(truth, called),
        'brier': brier_score_loss(truth, a),
        'calibration': {'observed': prob_true.tolist(), 'predicted': prob_pred.tolist(), 'ece': ece},
        'delong': {'aucs': aucs, 'covariance': covariance, 'difference': difference},
        'choices': {t: choose(truth, a, t) for t in data['targets']},
    })
y, p = np.asarray(data['multilabel']['truth']), np.asarray(data['multilabel']['called'])
out['multilabel'] = {'micro': f1_score(y, p, average='micro'), 'macro': f1_score(y, p, average='macro'),
                     'precision': precision_score(y, p, average='micro'),
                     'recall': recall_score(y, p, average='micro')}
out['wilson'] = []
for k, n in data['wilson']:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method='wilson')
    out['wilson'].append([ci.low, ci.high])
out['quantiles'] = [float(ndtri(q)) for q in data['quantiles']]
print(json.dumps(out))
`;

interface CaseResult {
  auc: number;
  roc: { fpr: number[]; tpr: number[]; thresholds: number[]; first: string };
  confusion: { tp: number; fp: number; fn: number; tn: number };
  precision: number;
  recall: number;
  f1: number;
  brier: number;
  calibration: { observed: number[]; predicted: number[]; ece: number };
  delong: { aucs: number[]; covariance: number[][]; difference: number };
  choices: Record<string, { threshold: number; tp: number; fp: number } | null>;
}

interface Reference {
  cases: CaseResult[];
  multilabel: { micro: number; macro: number; precision: number; recall: number };
  wilson: Array<[number, number]>;
  quantiles: number[];
}

const CASES = cases();
const WILSON: Array<[number, number]> = [
  [0, 1],
  [1, 1],
  [0, 10],
  [8, 10],
  [1, 3],
  [37, 50],
  [50, 50],
  [123, 456],
  [999, 1000],
];
const QUANTILES = [1e-300, 1e-12, 0.001, 0.025, 0.07, 0.3, 0.5, 0.6, 0.93, 0.975, 0.995, 1 - 1e-9];

/** A multi-label matrix: 200 images, 6 findings of prevalence 5 to 40 %, calls right 85 % of the time. */
function multilabel(): { truth: number[][]; called: number[][] } {
  const draw = normals(7);
  const prevalence = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4];
  const truth: number[][] = [];
  const called: number[][] = [];
  for (let i = 0; i < 200; i++) {
    const row = prevalence.map((q) => (sigmoid(draw() * 1.7) < q ? 1 : 0));
    truth.push(row);
    called.push(row.map((t) => (sigmoid(draw() * 1.7) < 0.85 ? t : 1 - t)));
  }
  prevalence.forEach((_, k) => (truth[k][k] = 1)); // every finding has a positive
  return { truth, called };
}
const MULTILABEL = multilabel();

let reference: Reference | undefined;
function python(): Reference {
  if (reference) return reference;
  const missing = missingPythonModules(
    ['numpy', 'scipy', 'sklearn'],
    (code) => spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0,
  );
  if (missing.length > 0)
    assert.fail(
      `${PYTHON} cannot import ${missing.join(', ')}: ${aptCommand(missing.map((m) => REFERENCE_PYTHON_MODULES[m].package))} (or npm run test:tools).`,
    );
  const input = JSON.stringify({
    cases: CASES,
    targets: TARGETS,
    multilabel: MULTILABEL,
    wilson: WILSON,
    quantiles: QUANTILES,
  });
  const run = spawnSync(PYTHON, ['-c', SCRIPT], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, `the reference script failed:\n${run.stderr}`);
  reference = JSON.parse(run.stdout) as Reference;
  return reference;
}

function close(actual: number | null | undefined, expected: number, what: string, tolerance = 1e-9): void {
  assert.ok(
    typeof actual === 'number' && Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} against ${expected}`,
  );
}

function closeAll(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values against ${expected.length}`);
  actual.forEach((v, i) => close(v, expected[i], `${what}[${i}]`));
}

test('the data have what the comparison needs: ties across classes, scores on the bin edges', () => {
  const crossTies = (c: Case) => {
    const negatives = new Set(c.a.filter((_, i) => c.truth[i] === 0));
    return c.a.some((s, i) => c.truth[i] === 1 && negatives.has(s));
  };
  for (const c of CASES) assert.ok(c.truth.includes(1) && c.truth.includes(0), `${c.name}: both classes`);
  assert.ok(crossTies(CASES[1]) && crossTies(CASES[3]), 'a positive and a negative with the same score');
  assert.ok(CASES[1].a.includes(0.3) && CASES[1].a.includes(0.7), 'scores on the edges 0.3 and 0.7');
  assert.ok(CASES[5].a.includes(0.3) && CASES[5].a.includes(3 * 0.1), 'the edge 0.3 in both its forms');
});

test("AUC and the ROC curve equal scikit-learn's roc_auc_score and roc_curve(drop_intermediate=False)", () => {
  const { cases: results } = python();
  CASES.forEach((c, i) => {
    const r = results[i];
    close(auc(c.truth, c.a), r.auc, `${c.name}: AUC`);
    const curve = rocCurve(c.truth, c.a);
    assert.ok(['inf', 'max+1'].includes(r.roc.first), `${c.name}: scikit-learn's first threshold`);
    assert.equal(curve[0].threshold, Infinity);
    closeAll(
      curve.map((p) => p.fpr),
      r.roc.fpr,
      `${c.name}: fpr`,
    );
    closeAll(
      curve.map((p) => p.tpr),
      r.roc.tpr,
      `${c.name}: tpr`,
    );
    assert.deepEqual(
      curve.slice(1).map((p) => p.threshold),
      r.roc.thresholds,
      `${c.name}: thresholds`,
    );
  });
});

test("the confusion matrix, precision, recall and F1 at a threshold equal scikit-learn's", () => {
  const { cases: results } = python();
  CASES.forEach((c, i) => {
    const r = results[i];
    const counts = confusion(
      c.truth,
      c.a.map((s) => s >= c.threshold),
    );
    assert.deepEqual(counts, r.confusion, c.name);
    const f1 = f1FromCounts(counts);
    close(f1.precision, r.precision, `${c.name}: precision`);
    close(f1.recall, r.recall, `${c.name}: recall`);
    close(f1.f1, r.f1, `${c.name}: F1`);
  });
});

test("micro- and macro-F1 on a multi-label matrix equal scikit-learn's f1_score", () => {
  const { multilabel: r } = python();
  const asBool = (m: number[][]) => m.map((row) => row.map((v) => v === 1));
  const micro = microF1(asBool(MULTILABEL.truth), asBool(MULTILABEL.called));
  close(micro.f1, r.micro, 'micro-F1');
  close(micro.precision, r.precision, 'micro precision');
  close(micro.recall, r.recall, 'micro recall');
  const findings = MULTILABEL.truth[0].map((_, k) =>
    confusion(
      MULTILABEL.truth.map((row) => row[k]),
      MULTILABEL.called.map((row) => row[k]),
    ),
  );
  close(macroF1(findings), r.macro, 'macro-F1');
});

test("the Brier score and the reliability bins equal scikit-learn's brier_score_loss and calibration_curve", () => {
  const { cases: results } = python();
  CASES.forEach((c, i) => {
    const r = results[i];
    close(brierScore(c.truth, c.a), r.brier, `${c.name}: Brier`);
    const filled = reliability(c.truth, c.a).filter((bin) => bin.count > 0);
    closeAll(
      filled.map((bin) => bin.observed!),
      r.calibration.observed,
      `${c.name}: observed`,
    );
    closeAll(
      filled.map((bin) => bin.meanPredicted!),
      r.calibration.predicted,
      `${c.name}: mean predicted`,
    );
    close(expectedCalibrationError(c.truth, c.a), r.calibration.ece, `${c.name}: ECE`);
  });
});

test("DeLong's covariance and the paired difference equal the textbook pairwise formula in numpy", () => {
  const { cases: results } = python();
  const relative = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: ${actual} against ${expected}`);
  CASES.forEach((c, i) => {
    const r = results[i].delong;
    const ours = delong(c.truth, [c.a, c.b])!;
    closeAll(ours.aucs, r.aucs, `${c.name}: AUCs`);
    for (let k = 0; k < 2; k++)
      for (let l = 0; l < 2; l++) relative(ours.covariance[k][l], r.covariance[k][l], `${c.name}: S[${k}][${l}]`);
    const z = normalQuantile(0.975);
    const one = delongInterval(c.truth, c.a);
    close(one.low, Math.max(0, r.aucs[0] - z * Math.sqrt(r.covariance[0][0])), `${c.name}: low`);
    close(one.high, Math.min(1, r.aucs[0] + z * Math.sqrt(r.covariance[0][0])), `${c.name}: high`);
    const difference = delongDifference(c.truth, c.a, c.b);
    const value = r.aucs[0] - r.aucs[1];
    close(difference.value, value, `${c.name}: difference`);
    relative(((difference.high! - difference.low!) / (2 * z)) ** 2, r.difference, `${c.name}: difference variance`);
  });
});

test("Wilson's interval and the normal quantile equal scipy's binomtest and ndtri", () => {
  const r = python();
  WILSON.forEach(([k, n], i) => {
    const interval = wilson(k, n);
    close(interval.low, r.wilson[i][0], `${k}/${n}: low`);
    close(interval.high, r.wilson[i][1], `${k}/${n}: high`);
  });
  QUANTILES.forEach((q, i) =>
    close(normalQuantile(q), r.quantiles[i], `quantile ${q}`, 1e-12 * Math.max(1, Math.abs(r.quantiles[i]))),
  );
});

test('the operating points equal a brute force over every threshold in exact fractions', () => {
  const { cases: results } = python();
  let unreachable = 0;
  CASES.forEach((c, i) => {
    for (const target of TARGETS) {
      const expected = results[i].choices[target];
      const choice = chooseThreshold(c.truth, c.a, parseCalibrationTarget(target));
      if (expected === null) unreachable++;
      assert.deepEqual(
        choice && { threshold: choice.threshold, tp: choice.tp, fp: choice.fp },
        expected,
        `${c.name}: ${target}`,
      );
    }
  });
  assert.ok(unreachable > 0 && unreachable < CASES.length * TARGETS.length, 'some targets unreachable, not all');
});
