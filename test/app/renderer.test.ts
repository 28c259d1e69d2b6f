/**
 * The renderer's pure parts, in Node: the findings forest built from the engine's paths (order,
 * groups, a term under two parents), the worklist's filter and search, the scan's roots as the
 * worklist names them, and the heatmap cells' opacity. What needs a browser is in e2e/ (there, the colours the viewer draws).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FindingData, WorklistStudyData } from '../../main/app/api/contract.js';
import { cellRgba, HEATMAP_FLOOR } from '../../renderer/src/colormap.js';
import { namedRoots } from '../../renderer/src/format.js';
import { destinationLabel, fieldsOf, settingsDestination, settingsOf } from '../../renderer/src/node-form.js';
import { buildTree, flatten, hasHeatmap } from '../../renderer/src/tree.js';
import { filterStudies } from '../../renderer/src/worklist-filter.js';

function finding(term: string, paths: string[][], options: Partial<FindingData> = {}): FindingData {
  return {
    term,
    cui: null,
    tree: 'finding',
    positive: false,
    direct: true,
    assessed: true,
    votes: { positive: 0, total: 3 },
    probability: { ensemble: 0.1, mean: 0.1167, min: 0.05, max: 0.2 },
    indeterminate: false,
    perModel: { a: 0.1, b: 0.05, c: 0.2 },
    supportedBy: [],
    paths,
    ...options,
  };
}

describe('findings tree', () => {
  const findings = [
    finding('nodule', [['radiological finding', 'nodule']], {
      positive: true,
      votes: { positive: 3, total: 3 },
      probability: { ensemble: 0.8, mean: 0.8, min: 0.7, max: 0.9 },
    }),
    finding('radiological finding', [['radiological finding']], {
      positive: true,
      direct: false,
      votes: { positive: 0, total: 0 },
      probability: null,
      perModel: {},
      supportedBy: ['nodule'],
    }),
    // By the ensemble's value pleural effusion comes first; by the members' mean it would not.
    finding('cardiomegaly', [['radiological finding', 'cardiomegaly']], {
      probability: { ensemble: 0.2, mean: 0.4, min: 0.2, max: 0.8 },
    }),
    finding('pleural effusion', [['radiological finding', 'pleural effusion']], {
      probability: { ensemble: 0.3, mean: 0.2, min: 0.01, max: 0.3 },
    }),
    finding('mass', [['radiological finding', 'mass']], {
      direct: false,
      assessed: false,
      votes: { positive: 0, total: 0 },
      probability: null,
      perModel: {},
    }),
    finding(
      'pneumonia',
      [
        ['differential diagnosis', 'infection', 'pneumonia'],
        ['differential diagnosis', 'pneumonia'],
      ],
      { tree: 'diagnosis' },
    ),
  ];
  const roots = buildTree(findings);

  test('roots per taxonomy tree, positive branches first, then by the ensemble probability, unassessed last', () => {
    assert.deepEqual(
      roots.map((r) => [r.tree, r.term, r.positiveWithin]),
      [
        ['finding', 'radiological finding', true],
        ['diagnosis', 'differential diagnosis', false],
      ],
    );
    assert.deepEqual(
      roots[0].children.map((c) => c.term),
      ['nodule', 'pleural effusion', 'cardiomegaly', 'mass'],
    );
    assert.equal(roots[0].finding?.supportedBy[0], 'nodule', 'a rolled-up parent carries its finding');
  });

  test('nodes on the way to a finding are groups; a term under two parents appears under both', () => {
    const diagnosis = roots[1];
    assert.equal(diagnosis.finding, null);
    assert.deepEqual(diagnosis.children.map((c) => c.term).sort(), ['infection', 'pneumonia']);
    const pneumonias = flatten(roots).filter((n) => n.term === 'pneumonia');
    assert.equal(pneumonias.length, 2);
    assert.ok(pneumonias.every((n) => n.finding?.term === 'pneumonia'));
    assert.equal(new Set(flatten(roots).map((n) => n.id)).size, flatten(roots).length, 'ids are unique');
  });

  test('only positive model findings have heatmaps', () => {
    assert.equal(hasHeatmap(findings[0]), true);
    assert.equal(hasHeatmap(findings[1]), false, 'a rolled-up parent');
    assert.equal(hasHeatmap(findings[2]), false, 'a negative finding');
    assert.equal(hasHeatmap(findings[4]), false, 'a term not assessed');
    assert.equal(hasHeatmap(null), false);
  });
});

describe('worklist filter', () => {
  const study = (
    key: string,
    priority: WorklistStudyData['priority'],
    name: string,
    terms: string[],
    reason: string | null = null,
    indeterminate = false,
    identity: Partial<Pick<WorklistStudyData, 'patient' | 'accessionNumber' | 'studyDate' | 'studyDescription'>> = {},
  ): WorklistStudyData => ({
    study: key,
    studyInstanceUID: key.startsWith('file:') ? null : key,
    priority,
    firstSeenAt: '2026-01-01',
    updatedAt: '2026-01-01',
    patient: null,
    accessionNumber: null,
    studyDate: null,
    studyTime: null,
    studyDescription: null,
    ...identity,
    notForClinicalUse: true,
    reviewed: 0,
    images: [
      {
        file: `/data/${name}`,
        name,
        sopInstanceUID: null,
        status: reason ? 'rejected' : 'ok',
        priority,
        reason,
        notForClinicalUse: true,
        findings: terms.map((term) => ({
          term,
          tree: 'finding',
          votes: { positive: 2, total: 3 },
          probability: indeterminate ? 0.55 : 0.7,
          indeterminate,
        })),
        notAssessed: [],
      },
    ],
  });
  const studies = [
    study('1.2.3', 'critical', 'a.dcm', ['pneumothorax']),
    study('1.2.4', 'urgent', 'b.dcm', ['nodule']),
    study('file:/data/c.dcm', 'needs review', 'c.dcm', [], 'view position LL is a lateral view'),
    study('1.2.5', 'normal', 'd.dcm', []),
    study('1.2.6', 'abnormal', 'e.dcm', ['pleural effusion'], null, true),
    study('1.2.7', 'normal', 'f.dcm', [], null, false, {
      patient: { name: 'MÜLLER, Anna', id: 'MRN-0042', issuer: 'NORTH', sex: 'F', age: '058Y', ageDerived: false },
      accessionNumber: 'ACC77',
      studyDate: '2026-03-14',
      studyDescription: 'Chest PA',
    }),
  ];

  test('by priority, by words anywhere (file, finding, reason, UID), all words must match', () => {
    assert.deepEqual(
      filterStudies(studies, 'urgent', '').map((s) => s.study),
      ['1.2.4'],
    );
    assert.deepEqual(
      filterStudies(studies, null, 'NODULE').map((s) => s.study),
      ['1.2.4'],
    );
    assert.deepEqual(
      filterStudies(studies, null, 'lateral').map((s) => s.study),
      ['file:/data/c.dcm'],
    );
    assert.deepEqual(
      filterStudies(studies, null, '1.2.5').map((s) => s.study),
      ['1.2.5'],
    );
    assert.deepEqual(
      filterStudies(studies, null, 'a.dcm pneumothorax').map((s) => s.study),
      ['1.2.3'],
    );
    assert.deepEqual(filterStudies(studies, null, 'a.dcm nodule'), []);
    assert.deepEqual(
      filterStudies(studies, null, '  ').map((s) => s.study),
      ['1.2.3', '1.2.4', 'file:/data/c.dcm', '1.2.5', '1.2.6', '1.2.7'],
      'the order is kept',
    );
  });

  test('the patient: name (case and accents aside), patient ID, accession number, study date', () => {
    for (const query of ['müller', 'MULLER anna', 'mrn-0042', 'acc77', '2026-03-14', 'anna normal']) {
      assert.deepEqual(
        filterStudies(studies, null, query).map((s) => s.study),
        ['1.2.7'],
        query,
      );
    }
    assert.deepEqual(filterStudies(studies, 'urgent', 'muller'), []);
    assert.deepEqual(filterStudies(studies, null, 'muller bob'), []);
  });

  test('"indeterminate" finds the studies with a call in the indeterminate band', () => {
    assert.deepEqual(
      filterStudies(studies, null, 'indeterminate').map((s) => s.study),
      ['1.2.6'],
    );
  });
});

// The colours the viewer draws are checked as Chromium drew them (the colour scale, in the
// end-to-end test); here, the cell opacity rule.
describe('heatmap colours', () => {
  test('no colour below the floor; opacity grows with the value', () => {
    assert.deepEqual(cellRgba(0), [0, 0, 0, 0]);
    assert.equal(cellRgba(HEATMAP_FLOOR)[3], 0);
    const alphas = [0.2, 0.4, 0.6, 0.8, 1].map((v) => cellRgba(v)[3]);
    assert.deepEqual(
      alphas,
      [...alphas].sort((a, b) => a - b),
    );
    assert.ok(alphas[4] > 200);
  });
});

describe('scan roots in the worklist', () => {
  test('the roots an event names, then how many more the scan has', () => {
    assert.equal(namedRoots(['/data/cxr/a.dcm'], 1), '…/cxr/a.dcm');
    assert.equal(namedRoots(['/data/a', '/data/b', '/data/c'], 3), '/data/a, /data/b, /data/c');
    assert.equal(namedRoots(['/data/a', '/data/b', '/data/c'], 8192), '/data/a, /data/b, /data/c and 8189 more');
  });
});

describe('the DICOM node form', () => {
  const settings = {
    aeTitle: 'TRIAGE',
    port: 11112,
    host: '127.0.0.1',
    allowedCallingAeTitles: ['MOD', 'CR1'],
    stableSeconds: 10,
    destinations: ['PACS@10.0.0.5:104', 'http://pacs:8042/dicom-web'],
    startWithApp: false,
  };

  test('settings round-trip through the form; unticked "other computers" means loopback', () => {
    assert.deepEqual(settingsOf(fieldsOf(settings)), settings);
    const fields = { ...fieldsOf(settings), host: '0.0.0.0' };
    assert.equal(settingsOf(fields).host, '127.0.0.1', 'another address only when ticked');
    assert.equal(settingsOf({ ...fields, network: true }).host, '0.0.0.0');
    assert.equal(fieldsOf({ ...settings, host: '10.1.2.3' }).network, true);
  });

  test('lists are split and trimmed; a port that is not a number is NaN for the API to refuse', () => {
    const fields = { ...fieldsOf(settings), allowed: ' MOD ,, CR1\n', destinations: '\n PACS@h:104 \n\n' };
    assert.deepEqual(settingsOf(fields).allowedCallingAeTitles, ['MOD', 'CR1']);
    assert.deepEqual(settingsOf(fields).destinations, ['PACS@h:104']);
    assert.ok(Number.isNaN(settingsOf({ ...fields, port: '11a' }).port));
    assert.equal(settingsOf({ ...fields, port: ' 0 ' }).port, 0);
  });

  test('outbox names for people, and the settings line a Test connection echoes', () => {
    assert.equal(destinationLabel('dicom:PACS@10.0.0.5:104'), 'PACS@10.0.0.5:104');
    assert.equal(destinationLabel('stow:http://pacs/dicom-web'), 'STOW-RS http://pacs/dicom-web');
    assert.equal(settingsDestination(settings, 'dicom:PACS@10.0.0.5:104'), 'PACS@10.0.0.5:104');
    assert.equal(settingsDestination(settings, 'stow:http://pacs:8042/dicom-web'), null);
    assert.equal(settingsDestination(settings, 'dicom:OLD@h:1'), null);
  });
});
