// triage eval and triage calibrate as a hospital runs them, on phantoms of seeds nothing else uses:
// every figure of metrics.json recomputed from predictions.csv by scikit-learn, results reused
// from the database, refusals and missing images counted, and a pack calibrated to a sensitivity
// on one labelled set keeping it, within its interval, on another.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeGreyPng } from '../../main/ingest/index.js';
import type { Evaluation } from '../../main/validation/index.js';
import { triage } from '../support/cli.js';
import { aptCommand, missingPythonModules, PYTHON, REFERENCE_PYTHON_MODULES } from '../support/reference-tools.js';

const DEMO = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const COUNT = 120;
const work = mkdtempSync(join(tmpdir(), 'triage-eval-'));
const setA = join(work, 'a');
const setB = join(work, 'b');

/** The user's data folder of these runs (the validations' database goes under it), never the real one. */
const DATA_HOME = join(work, 'data-home');
const ENV = { XDG_DATA_HOME: DATA_HOME };

function run(args: string[]): Record<string, unknown> {
  const result = triage(args, { env: ENV });
  assert.equal(result.status, 0, `triage ${args.join(' ')}\n${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const readMetrics = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Evaluation;

/** SHA-256 of every file under a folder, by relative path. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

before(() => {
  const missing = missingPythonModules(
    ['sklearn', 'numpy'],
    (code) => spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0,
  );
  assert.deepEqual(
    missing,
    [],
    `${PYTHON} cannot import ${missing.join(', ')}: ${aptCommand(missing.map((m) => REFERENCE_PYTHON_MODULES[m].package))} (or npm run test:tools).`,
  );
  run(['phantom', '--count', String(COUNT), '--seed', '61001', '--out', setA]);
  run(['phantom', '--count', String(COUNT), '--seed', '61002', '--out', setB]);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('triage eval writes figures that scikit-learn recomputes from predictions.csv, and counts what it could not judge', () => {
  // A flat grey picture the gate must refuse, labelled; and a labels row whose file is absent.
  const blank = encodeGreyPng(new Uint8Array(256 * 256).fill(128), 256, 256);
  writeFileSync(join(setA, 'blank.png'), blank);
  const labels = readFileSync(join(setA, 'labels.csv'), 'utf8').trimEnd().split('\n');
  const extra = [`blank.png,${Array(8).fill('0').join(',')}`, `absent.dcm,${Array(8).fill('0').join(',')}`];
  const labelsFile = join(work, 'labels-a.csv');
  // Paths relative to the labels file's own folder.
  writeFileSync(
    labelsFile,
    [labels[0], ...labels.slice(1).map((line) => `a/${line}`), ...extra.map((line) => `a/${line}`)].join('\n'),
  );
  const out = join(work, 'eval-a');
  const summary = run(['eval', setA, '--labels', labelsFile, '--out', out, '--resamples', '400']).evaluation as Record<
    string,
    unknown
  >;
  assert.equal(summary.outcome, 'completed');
  assert.equal(summary.notForClinicalUse, true);
  const metrics = readMetrics(out);
  assert.equal(metrics.data.images + metrics.data.rejected.total + metrics.data.errors.total, COUNT + 1);
  assert.equal(metrics.data.missing, 1);
  assert.ok(metrics.data.rejected.total >= 1, 'the grey picture is refused');
  assert.ok(Object.keys(metrics.data.rejected.byReason).some((reason) => reason.startsWith('out of distribution')));
  // The demo pack's nodule heads are untrained, and no model calls "normal": prevalence only.
  assert.deepEqual(
    metrics.data.notAssessed.map((t) => t.term),
    ['nodule', 'normal'],
  );
  // The phantoms' studies hold several images of one patient: intervals resample patients.
  assert.equal(metrics.intervals.clustered, true);
  assert.ok(metrics.findings.every((f) => f.auc.method === 'bootstrap-patient'));
  assert.equal(metrics.findings.length, 6);
  assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes('NOT FOR CLINICAL USE'));

  const check = spawnSync(PYTHON, ['-c', SKLEARN_CHECK], {
    input: JSON.stringify({ predictions: join(out, 'predictions.csv'), metrics: join(out, 'metrics.json') }),
    encoding: 'utf8',
  });
  assert.equal(check.status, 0, check.stderr);
  const report = JSON.parse(check.stdout) as { checked: number; worst: number };
  assert.ok(report.checked > 7 * 10, `checked ${report.checked} figures`);
  assert.ok(report.worst <= 1e-9, `largest difference ${report.worst}`);

  // The images' results, which name their patients, are in the validations' own database, not in DIR.
  assert.deepEqual(readdirSync(out).sort(), ['metrics.json', 'predictions.csv', 'report.html']);
  assert.ok(statSync(join(DATA_HOME, 'cxr-triage', 'validations', 'results.sqlite')).size > 0);
  // Again: every image's result is reused from that database, the figures the same.
  const again = run(['eval', setA, '--labels', labelsFile, '--out', out, '--resamples', '400']).evaluation as {
    reused: number;
  };
  assert.ok(again.reused >= COUNT, `reused ${again.reused}`);
  const second = readMetrics(out);
  assert.deepEqual(second.findings, metrics.findings);
});

test('triage calibrate derives a pack that keeps its sensitivity target on another labelled set, the parent untouched', () => {
  const parentBefore = tree(DEMO);
  const pack = join(work, 'site-pack');
  const calibration = run([
    'calibrate',
    setA,
    '--labels',
    join(setA, 'labels.csv'),
    '--models',
    DEMO,
    '--out',
    pack,
    '--target',
    'sensitivity=0.9',
  ]).calibration as {
    findings: Array<{ term: string; outcome: string; sensitivity: number; specificity: number }>;
    parent: { fingerprint: string };
    version: string;
  };
  assert.deepEqual(tree(DEMO), parentBefore, 'the parent pack is never modified');
  const derived = JSON.parse(readFileSync(join(pack, 'ensemble.json'), 'utf8')) as {
    version: string;
    calibration: { labels: { sha256: string }; target: string };
  };
  assert.equal(derived.calibration.target, 'sensitivity=0.9');
  assert.equal(
    derived.calibration.labels.sha256,
    createHash('sha256')
      .update(readFileSync(join(setA, 'labels.csv')))
      .digest('hex'),
  );
  assert.notEqual(derived.version, JSON.parse(readFileSync(join(DEMO, 'ensemble.json'), 'utf8')).version);
  for (const member of ['resnet', 'densenet', 'mobilenet']) {
    assert.equal(tree(pack)[`${member}/model.onnx`], parentBefore[`${member}/model.onnx`], `${member}'s ONNX file`);
  }
  const calibrated = calibration.findings.filter((f) => f.outcome === 'calibrated');
  assert.ok(calibrated.length >= 6, JSON.stringify(calibration.findings));

  // On the images it was chosen on, the derived pack's calls are exactly the chosen threshold's.
  const onA = join(work, 'eval-site-a');
  run(['eval', setA, '--labels', join(setA, 'labels.csv'), '--models', pack, '--out', onA, '--resamples', '200']);
  const metricsA = readMetrics(onA);
  assert.equal(metricsA.pack.fingerprint === calibration.parent.fingerprint, false);
  for (const finding of calibrated) {
    const measured = metricsA.findings.find((f) => f.term === finding.term)!;
    assert.equal(measured.sensitivity.value, finding.sensitivity, finding.term);
    assert.equal(measured.specificity.value, finding.specificity, finding.term);
    assert.ok(measured.sensitivity.value! >= 0.9, finding.term);
  }

  // On a separate labelled set the target lies within each finding's interval.
  const onB = join(work, 'eval-site-b');
  run(['eval', setB, '--labels', join(setB, 'labels.csv'), '--models', pack, '--out', onB]);
  const metricsB = readMetrics(onB);
  for (const finding of calibrated) {
    const { sensitivity } = metricsB.findings.find((f) => f.term === finding.term)!;
    assert.ok(
      sensitivity.low! <= 0.9 && 0.9 <= sensitivity.high!,
      `${finding.term}: sensitivity ${sensitivity.value} [${sensitivity.low}, ${sensitivity.high}] on a new set`,
    );
  }
});

test('calibrate refuses to write into its parent or over files, and eval names a bad labels column', () => {
  const args = ['--labels', join(setA, 'labels.csv'), '--models', DEMO, '--target', 'youden'];
  const into = triage(['calibrate', setA, ...args, '--out', join(DEMO, 'calibrated')], { env: ENV });
  assert.equal(into.status, 2);
  assert.equal(JSON.parse(into.stderr.trim().split('\n').pop()!).error.code, 'USAGE');
  const occupied = join(work, 'occupied');
  rmSync(occupied, { recursive: true, force: true });
  run(['phantom', '--count', '1', '--seed', '61003', '--out', occupied]);
  const over = triage(['calibrate', setA, ...args, '--out', occupied], { env: ENV });
  assert.equal(over.status, 2);
  assert.equal(JSON.parse(over.stderr.trim().split('\n').pop()!).error.code, 'USAGE');
  // A link to the parent pack is the parent pack.
  const link = join(work, 'link-to-demo');
  symlinkSync(DEMO, link);
  const viaLink = triage(['calibrate', setA, ...args, '--out', join(link, 'calibrated')], { env: ENV });
  assert.equal(JSON.parse(viaLink.stderr.trim().split('\n').pop()!).error.code, 'USAGE');
  const bad = join(work, 'bad.csv');
  copyFileSync(join(setA, 'labels.csv'), bad);
  writeFileSync(bad, readFileSync(bad, 'utf8').replace('mass', 'masss'));
  const refused = triage(['eval', setA, '--labels', bad, '--out', join(work, 'bad-eval')], { env: ENV });
  assert.equal(refused.status, 2);
  const error = JSON.parse(refused.stderr.trim().split('\n').pop()!).error as { code: string; message: string };
  assert.equal(error.code, 'UNKNOWN_TERM');
  assert.match(error.message, /column "masss"/);
});

/** Recomputes metrics.json's figures from predictions.csv with scikit-learn; prints the largest difference. */
const SKLEARN_CHECK = String.raw`
import csv, json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, confusion_matrix, f1_score, brier_score_loss, roc_curve
from sklearn.calibration import calibration_curve
args = json.load(sys.stdin)
metrics = json.load(open(args['metrics']))
rows = list(csv.DictReader(open(args['predictions'], newline='')))
members = [c[len('member:'):] for c in rows[0].keys() if c.startswith('member:')]
worst, checked = 0.0, 0
def same(a, b, what):
    global worst, checked
    if a is None or b is None:
        assert a is None and b is None, (what, a, b)
        return
    worst = max(worst, abs(a - b)); checked += 1
    assert abs(a - b) <= 1e-9, (what, a, b)
pooled_y, pooled_p, f1s = [], [], []
for finding in metrics['findings']:
    mine = [r for r in rows if r['term'] == finding['term'] and r['tree'] == finding['tree']]
    y = np.array([int(r['label']) for r in mine]); p = np.array([float(r['probability']) for r in mine])
    called = np.array([int(r['positive']) for r in mine])
    assert len(mine) == finding['n'] and int(y.sum()) == finding['positives']
    same(roc_auc_score(y, p), finding['auc']['value'], finding['term'] + ' auc')
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    same(float(len(fpr)), float(len(finding['roc'])), 'roc points')
    for (a, b), point in zip(zip(fpr, tpr), finding['roc']):
        same(a, point['fpr'], 'roc fpr'); same(b, point['tpr'], 'roc tpr')
    tn, fp, fn, tp = confusion_matrix(y, called, labels=[0, 1]).ravel()
    same(tp / (tp + fn), finding['sensitivity']['value'], 'sensitivity')
    same(tn / (tn + fp), finding['specificity']['value'], 'specificity')
    same(tp / (tp + fp) if tp + fp else None, finding['ppv']['value'], 'ppv')
    same(tn / (tn + fn) if tn + fn else None, finding['npv']['value'], 'npv')
    same(f1_score(y, called), finding['f1']['value'], 'f1')
    f1s.append(f1_score(y, called))
    for member in finding['members']:
        q = np.array([float(r['member:' + member['model']]) for r in mine])
        same(roc_auc_score(y, q), member['auc']['value'], member['model'] + ' auc')
        same(f1_score(y, q >= 0.5), member['f1']['value'], member['model'] + ' f1')
    pooled_y += list(y); pooled_p += list(p)
y_all = np.array([int(r['label']) for r in rows]); c_all = np.array([int(r['positive']) for r in rows])
same(f1_score(y_all, c_all), metrics['overall']['microF1']['f1']['value'], 'micro f1')
same(float(np.mean(f1s)), metrics['overall']['macroF1']['value'], 'macro f1')
same(brier_score_loss(pooled_y, pooled_p), metrics['overall']['calibration']['brier'], 'brier')
observed, predicted = calibration_curve(pooled_y, pooled_p, n_bins=10, strategy='uniform')
bins = [b for b in metrics['overall']['calibration']['bins'] if b['count'] > 0]
for o, q, b in zip(observed, predicted, bins):
    same(o, b['observed'], 'reliability observed'); same(q, b['meanPredicted'], 'reliability predicted')
print(json.dumps({'checked': checked, 'worst': worst}))
`;
