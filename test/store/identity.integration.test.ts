/**
 * The patient and examination in the results store (schema 5): a schema 4 database migrates with
 * its rows, its studies without identity until a scan sees their files again; the identity is
 * written in the image's result's transaction (a result that fails to write leaves none), the
 * latest file's values win and a missing value erases nothing; the worklist, a study and an
 * export's lookup read it back, the name for display.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sqlite from 'node-sqlite3-wasm';
import { StudyIdentity } from '../../main/common/index.js';
import type { StudyIdentityFields } from '../../main/common/index.js';
import type { Finding } from '../../main/domain/index.js';
import { ResultStore, SCHEMA_VERSION } from '../../main/store/index.js';
import { MIGRATIONS } from '../../main/store/schema.js';
import { scratchDir } from '../support/tools.js';
import { finding, result } from './results.js';

const scratch = scratchDir('store-identity');
after(() => scratch.remove());
let counter = 0;
const freshDb = () => {
  const path = join(scratch.path, `db-${++counter}`, 'results.sqlite');
  mkdirSync(join(path, '..'), { recursive: true });
  return path;
};

const NONE: StudyIdentityFields = {
  patientName: null,
  patientId: null,
  issuerOfPatientId: null,
  patientSex: null,
  patientAge: null,
  patientAgeDerived: false,
  accessionNumber: null,
  studyDate: null,
  studyTime: null,
  studyDescription: null,
};
const identity = (fields: Partial<StudyIdentityFields>) => StudyIdentity.from({ ...NONE, ...fields });
const JANE = identity({
  patientName: 'DOE^Jane^^Dr',
  patientId: 'MRN-7',
  issuerOfPatientId: 'NORTH',
  patientSex: 'F',
  patientAge: '058Y',
  accessionNumber: 'A-100',
  studyDate: '2026-03-14',
  studyTime: '10:15:02',
  studyDescription: 'Chest PA',
});

function write(store: ResultStore, file: string, uid: string | null, who: StudyIdentity | null, findings?: Finding[]) {
  return store.recordResult({
    result: { ...result(file, { positives: ['nodule'] }), studyInstanceUID: uid, ...(findings ? { findings } : {}) },
    identity: who,
    file: { path: file, sha256: file.padEnd(64, '0').slice(0, 64), size: 10 },
    format: 'dicom',
    priority: 'urgent',
    rulesFingerprint: 'rules-1',
    scanId: null,
  });
}

describe('the patient in the store', () => {
  test('a schema 4 database migrates; a later sighting of an unchanged file fills its study in', () => {
    const path = freshDb();
    const raw = new sqlite.Database(path);
    raw.all('PRAGMA locking_mode = EXCLUSIVE');
    raw.all('PRAGMA journal_mode = WAL');
    raw.exec(
      'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const migration of MIGRATIONS.filter((m) => m.version <= 4)) {
      raw.exec(migration.sql);
      raw.run('INSERT INTO schema_version VALUES (?, ?, ?)', [migration.version, migration.description, '2026-01-01']);
    }
    raw.run(
      "INSERT INTO packs (fingerprint, pack_id, version, rule, demo, not_for_clinical_use) VALUES ('fp', 'p', '1', 'majority', 1, 1)",
    );
    raw.run(
      "INSERT INTO scans (id, started_at, roots, provider, pack_fingerprint, rules_fingerprint) VALUES (1, '2026-01-02', '[]', 'cpu', 'fp', 'r')",
    );
    raw.run("INSERT INTO studies VALUES ('1.2.3', '1.2.3', 'urgent', 1, '2026-01-01', '2026-01-01')");
    raw.run(
      "INSERT INTO images (id, path, study_instance_uid, study_key, status, provider, pack_fingerprint, rules_fingerprint, not_for_clinical_use, scanned_at) VALUES (5, '/m/1.dcm', '1.2.3', '1.2.3', 'ok', 'cpu', 'fp', 'r', 1, '2026-01-01')",
    );
    raw.close();
    const store = ResultStore.open(path);
    assert.equal(store.schemaVersion(), SCHEMA_VERSION);
    const [before] = store.worklist();
    assert.equal(before.study, '1.2.3');
    assert.equal(before.patient, null);
    assert.equal(before.accessionNumber, null);
    store.markSeen(5, 1, JANE);
    const [now] = store.worklist();
    assert.deepEqual(now.patient, {
      name: 'DOE, Dr Jane',
      id: 'MRN-7',
      issuer: 'NORTH',
      sex: 'F',
      age: '058Y',
      ageDerived: false,
    });
    assert.equal(now.accessionNumber, 'A-100');
    assert.equal(now.studyDate, '2026-03-14');
    assert.equal(now.studyTime, '10:15:02');
    assert.equal(now.studyDescription, 'Chest PA');
    assert.deepEqual(store.integrityCheck(), ['ok']);
    store.close();
  });

  test('written with the result; the latest file wins, a missing value erases nothing', () => {
    const store = ResultStore.open(freshDb());
    write(store, '/s/a.dcm', '1.2.9', JANE);
    write(
      store,
      '/s/b.dcm',
      '1.2.9',
      identity({ patientAge: '059Y', patientAgeDerived: true, accessionNumber: 'A-101' }),
    );
    write(store, '/s/c.png', null, null);
    const studies = store.worklist();
    const study = studies.find((s) => s.study === '1.2.9')!;
    assert.equal(study.patient?.name, 'DOE, Dr Jane');
    assert.equal(study.patient?.age, '059Y');
    assert.equal(study.patient?.ageDerived, true);
    assert.equal(study.accessionNumber, 'A-101');
    assert.equal(study.studyDescription, 'Chest PA');
    const png = studies.find((s) => s.study === 'file:/s/c.png')!;
    assert.equal(png.patient, null);
    assert.equal(png.studyDate, null);
    const detail = store.study('1.2.9')!;
    assert.equal(detail.patient?.id, 'MRN-7');
    assert.equal(detail.accessionNumber, 'A-101');
    assert.deepEqual(store.studyIdentity('1.2.9'), {
      patient: study.patient,
      accessionNumber: 'A-101',
      studyDate: '2026-03-14',
      studyTime: '10:15:02',
      studyDescription: 'Chest PA',
    });
    assert.equal(store.studyIdentity('no such study'), null);
    store.close();
  });

  test('a result that fails to write leaves no identity behind (one transaction)', () => {
    const store = ResultStore.open(freshDb());
    const broken = { ...finding('nodule'), term: null as unknown as string };
    assert.throws(() => write(store, '/t/a.dcm', '7.7.7', JANE, [broken]), /NOT NULL/);
    assert.equal(store.studyIdentity('7.7.7'), null, 'the study itself was rolled back');
    write(store, '/t/a.dcm', '7.7.7', JANE);
    assert.throws(
      () => write(store, '/t/b.dcm', '7.7.7', identity({ patientName: 'ROE^Richard' }), [broken]),
      /NOT NULL/,
    );
    assert.equal(store.studyIdentity('7.7.7')?.patient?.name, 'DOE, Dr Jane', 'the failed write changed nothing');
    store.close();
  });
});
