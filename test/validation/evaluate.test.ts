// The evaluation's assembly on hand-made results: which terms are assessed, which intervals each
// figure gets, the hierarchical counts against the independent hierarchicalF1, the subgroups and
// predictions.csv's rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TriageError } from '../../main/errors/index.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import { auc, evaluate, hierarchicalF1, predictionsCsv } from '../../main/validation/index.js';
import type { LabelledImage } from '../../main/validation/index.js';
import { collected, image, labels, MEMBERS, pack } from './results.js';

const taxonomy = await loadTaxonomy();
const IMAGES = [
  image('/i/1.dcm', [1, 0, 1, 0], [0.9, 0.8, 0.3], [0.1, 0.2, 0.3], null, 'F'),
  image('/i/2.dcm', [1, 1, 0, 0], [0.4, 0.6, 0.45], [0.7, 0.8, 0.2], null, 'M'),
  image('/i/3.dcm', [0, 0, 0, 1], [0.2, 0.7, 0.1], [0.3, 0.1, 0.2], null, 'F'),
  image('/i/4.dcm', [0, 1, null, 0], [0.6, 0.7, 0.9], [0.9, 0.6, 0.4], null, 'F'),
  image('/i/5.dcm', [null, 0, 0, 1], [0.1, 0.1, 0.1], [0.55, 0.2, 0.6], null, 'M'),
];

const run = (images: LabelledImage[]) =>
  evaluate({
    labels,
    collected: collected(images),
    pack,
    taxonomy,
    paths: ['/i'],
    bootstrap: { resamples: 200, seed: 7 },
    createdAt: '2026-12-07T00:00:00.000Z',
    software: 'test',
  });

test('terms no model assessed are counted apart; assessed ones get their labelled images only', () => {
  const { evaluation } = run(IMAGES);
  assert.deepEqual(
    evaluation.findings.map((f) => [f.term, f.n, f.positives]),
    [
      ['consolidation', 4, 2],
      ['pneumothorax', 5, 2],
    ],
  );
  assert.deepEqual(evaluation.data.notAssessed, [
    { term: 'nodule', tree: 'finding', n: 4, positives: 1 },
    { term: 'normal', tree: 'status', n: 5, positives: 2 },
  ]);
  assert.equal(evaluation.data.missing, 3);
  assert.equal(evaluation.data.reused, 5);
  assert.equal(evaluation.data.patients, null);
});

test('without patients, AUCs get DeLong intervals, proportions Wilson, F1 an image bootstrap', () => {
  const { evaluation } = run(IMAGES);
  const consolidation = evaluation.findings[0];
  assert.equal(evaluation.intervals.clustered, false);
  assert.equal(consolidation.auc.method, 'delong');
  assert.equal(consolidation.sensitivity.method, 'wilson');
  assert.equal(consolidation.f1.method, 'bootstrap');
  // Consolidation, images 1-4: ensemble (median) 0.8, 0.45, 0.2, 0.7; labels 1, 1, 0, 0.
  // Pairs (positive, negative): (0.8, 0.2) 1, (0.8, 0.7) 1, (0.45, 0.2) 1, (0.45, 0.7) 0 -> 3/4.
  assert.equal(consolidation.auc.value, 0.75);
  // Calls: 1 yes (2 of 3), 2 no, 3 no, 4 yes: tp 1, fn 1, fp 1, tn 1.
  assert.deepEqual(consolidation.confusion, { tp: 1, fp: 1, fn: 1, tn: 1 });
  assert.equal(consolidation.sensitivity.value, 0.5);
  assert.deepEqual(consolidation.operatingPoint, { fpr: 0.5, tpr: 0.5 });
  const memberA = consolidation.members.find((m) => m.model === 'a')!;
  assert.equal(memberA.auc.value, auc([1, 1, 0, 0], [0.9, 0.4, 0.2, 0.6]));
  assert.equal(memberA.aucDifference.method, 'delong');
});

test('hierarchical F1 counts ancestors once and leaves the root out, as hierarchicalF1 does independently', () => {
  const { evaluation } = run(IMAGES);
  const roots = new Set(taxonomy.roots.map((r) => r.term));
  const ancestors = (term: string) => taxonomy.ancestors(term, 'finding').filter((a) => !roots.has(a));
  const terms = evaluation.findings.map((f) => f.term);
  const truth = IMAGES.map((im) => terms.filter((_, t) => im.labels[t] === 1));
  const predicted = IMAGES.map((im) =>
    terms.filter((term, t) => im.labels[t] !== null && im.result.findings.find((f) => f.term === term)!.positive),
  );
  const expected = hierarchicalF1(truth, predicted, ancestors);
  const { hierarchical, microF1 } = evaluation.overall;
  assert.deepEqual([hierarchical.tp, hierarchical.fp, hierarchical.fn], [expected.tp, expected.fp, expected.fn]);
  assert.equal(hierarchical.f1.value, expected.f1);
  // Consolidation's ancestors below the root (infiltrates, alveolar pattern) make the hierarchy differ from micro.
  assert.notEqual(hierarchical.tp, microF1.tp);
});

test('patients with several images make every interval a patient bootstrap; outputs number them', () => {
  // 12 copies of the five images, of 30 patients (two images each): enough patients to resample.
  const many = Array.from({ length: 12 }, (_, copy) =>
    IMAGES.map((im, i) => ({ ...im, file: `${im.file}.${copy}`, patient: `secret-${(copy * 5 + i) % 30}` })),
  ).flat();
  const { evaluation } = run(many);
  assert.equal(evaluation.intervals.clustered, true);
  assert.equal(evaluation.intervals.note, null);
  for (const f of evaluation.findings)
    for (const figure of [f.auc, f.sensitivity, f.specificity, f.ppv, f.npv, f.f1])
      assert.equal(figure.method, 'bootstrap-patient');
  assert.equal(evaluation.data.patients, 30);

  // Two patients are too few to resample: images are taken as independent, and the note says why.
  const clustered = IMAGES.map((im, i) => ({ ...im, patient: `secret-${i % 2}` }));
  const { evaluation: few, predictions } = run(clustered);
  assert.equal(few.intervals.clustered, false);
  assert.match(few.intervals.note ?? '', /5 images of only 2 patients/);
  assert.equal(few.findings[0].auc.method, 'delong');
  assert.equal(few.data.patients, 2);
  assert.deepEqual([...new Set(predictions.map((p) => p.cluster))], [1, 2]);
  const csv = predictionsCsv(predictions, MEMBERS);
  assert.ok(!csv.includes('secret'), 'patient IDs never reach predictions.csv');
  assert.equal(
    csv.split('\n')[0],
    'file,term,tree,probability,positive,label,indeterminate,cluster,sex,age,view,manufacturer,member:a,member:b,member:c',
  );
  assert.equal(csv.split('\n')[1], '/i/1.dcm,consolidation,finding,0.8,1,1,0,1,F,unknown,PA,unknown,0.9,0.8,0.3');
  // A manufacturer read from a hostile header reaches a spreadsheet as text, never as a formula.
  const hostile = predictionsCsv(
    [{ ...predictions[0], attributes: { ...predictions[0].attributes, manufacturer: '=HYPERLINK("x")' } }],
    MEMBERS,
  );
  assert.ok(hostile.includes(`"'=HYPERLINK(""x"")"`), hostile);
});

test('subgroups: each known attribute by value, the largest first; an attribute never known is left out', () => {
  const { evaluation } = run(IMAGES);
  assert.deepEqual(
    evaluation.subgroups.map((s) => [s.attribute, s.value, s.images]),
    [
      ['sex', 'F', 3],
      ['sex', 'M', 2],
      ['view', 'PA', 5],
    ],
  );
  const female = evaluation.subgroups[0].findings.find((f) => f.term === 'consolidation')!;
  // Images 1, 3, 4: labels 1, 0, 0; ensemble 0.8, 0.2, 0.7.
  assert.deepEqual([female.n, female.positives, female.auc.value], [3, 1, 1]);
});

test('labels of one class only leave nothing to evaluate, said with the terms to label', () => {
  const oneClass = IMAGES.map((im) => ({ ...im, labels: [0, 0, 0, 0] as Array<0 | 1 | null> }));
  assert.throws(
    () => run(oneClass),
    (e: TriageError) => e.code === 'NOTHING_TO_EVALUATE' && /consolidation/.test(e.message),
  );
  assert.throws(
    () => run([]),
    (e: TriageError) =>
      e.code === 'NOTHING_TO_EVALUATE' &&
      /2 refused by the gates, 1 unreadable, 3 labels rows/.test(e.message) &&
      /Check that the paths/.test(e.message),
  );
});

test('when the gates refused every labelled image, the refusal is the reason given, with its commonest cause', () => {
  const refusedAll = {
    ...collected([]),
    rejected: { total: 40, byReason: { 'out of distribution (feature-distance)': 38, 'lateral view': 2 } },
    errors: { total: 0, byCode: {} },
    missing: 0,
  };
  assert.throws(
    () =>
      evaluate({
        labels,
        collected: refusedAll,
        pack,
        taxonomy,
        paths: ['/i'],
        createdAt: '2026-12-07T00:00:00.000Z',
        software: 'test',
      }),
    (e: TriageError) =>
      e.code === 'NOTHING_TO_EVALUATE' &&
      /the pack refuses these images, most often as "out of distribution \(feature-distance\)" \(38\)/.test(e.message),
  );
});
