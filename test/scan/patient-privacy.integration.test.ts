/**
 * Patient identity never reaches logs: `triage scan` (the real binary, debug log on, NDJSON
 * progress, heatmaps and exports written) over phantom DICOMs whose patients the phantom generator
 * records (phantoms.json: PHANTOM^N, PHANTOM-N, accession PHN) and one whose identity dcmodify set
 * to distinctive UTF-8 values. None of their names, IDs or accession numbers appears in stdout,
 * stderr, the heatmaps' names or bytes, or an export made without --include-patient. They do
 * appear where they belong: the database, `triage worklist` (text and JSON, and its --search),
 * and an export made with --include-patient (so the search for them is shown able to find them).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ResultStore } from '../../main/store/index.js';
import { triage } from '../support/cli.js';
import { requireProgram } from '../support/reference-tools.js';
import { scratchDir, tool } from '../support/tools.js';
import { csvRecords } from './csv.js';

const PHANTOMS = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));
const scratch = scratchDir('patient-privacy');
after(() => scratch.remove());

interface PhantomRecord {
  file: string;
  patient: { name: string; id: string };
  study: { number: number };
}

const SPECIAL = { name: 'Ærøskøbing^Quintessa', id: 'QX-918273', accession: 'ACX55501' };

/** Every file under `dir` (paths), recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('patient identity stays out of logs, progress and default exports', () => {
  test('triage scan writes no name, ID or accession number but to the database and explicit exports', () => {
    requireProgram('dcmodify');
    const recorded = (JSON.parse(readFileSync(join(PHANTOMS, 'phantoms.json'), 'utf8')) as { images: PhantomRecord[] })
      .images;
    const chosen = recorded.filter((r) =>
      ['phantom-00000.dcm', 'phantom-00001.dcm', 'phantom-00002.dcm'].includes(r.file),
    );
    const input = join(scratch.path, 'in');
    mkdirSync(input, { recursive: true });
    for (const r of chosen) copyFileSync(join(PHANTOMS, r.file), join(input, r.file));
    const special = join(input, 'special.dcm');
    copyFileSync(join(PHANTOMS, 'phantom-00003.dcm'), special);
    tool('dcmodify', [
      '-nb',
      '-i',
      '(0008,0005)=ISO_IR 192',
      '-m',
      `(0010,0010)=${SPECIAL.name}`,
      '-m',
      `(0010,0020)=${SPECIAL.id}`,
      '-m',
      `(0008,0050)=${SPECIAL.accession}`,
      special,
    ]);

    // What must not appear: each patient's name (as stored and as shown), ID and accession number.
    const secrets = [
      ...chosen.flatMap((r) => [
        r.patient.name,
        r.patient.name.replace('^', ', '),
        r.patient.id,
        `PH${r.study.number}`,
      ]),
      SPECIAL.name,
      'Ærøskøbing, Quintessa',
      'Quintessa',
      SPECIAL.id,
      SPECIAL.accession,
    ];
    const leaks = (text: string) =>
      secrets.filter((secret) =>
        secret.startsWith('PH') && /^PH\d+$/.test(secret)
          ? new RegExp(`\\b${secret}\\b`).test(text)
          : text.toLowerCase().includes(secret.toLowerCase()),
      );

    const out = join(scratch.path, 'out');
    mkdirSync(out, { recursive: true });
    const database = join(out, 'results.sqlite');
    const env = { TRIAGE_LOG: 'debug' };
    const scans = [
      triage(
        [
          'scan',
          input,
          '--db',
          database,
          '--ep',
          'cpu',
          '--heatmaps',
          join(out, 'heatmaps'),
          '--out',
          join(out, 'plain.csv'),
        ],
        { env },
      ),
      // Again: every file unchanged (the identity is read again and written to the database only).
      triage(['scan', input, '--db', database, '--ep', 'cpu', '--out', join(out, 'plain.json')], { env }),
      triage(['scan', special, '--db', database, '--ep', 'cpu', '--out', join(out, 'plain.ndjson')], { env }),
    ];
    for (const scan of scans) {
      assert.equal(scan.status, 0, scan.stderr);
      assert.match(scan.stderr, /"progress"/, 'NDJSON progress was written');
      assert.deepEqual(leaks(scan.stdout), [], `stdout: ${scan.stdout}`);
      assert.deepEqual(leaks(scan.stderr), [], `stderr: ${scan.stderr}`);
    }
    const written = filesUnder(out).filter((path) => !path.startsWith(database));
    assert.ok(
      written.some((path) => path.includes('heatmaps')),
      'heatmaps were written',
    );
    for (const path of written) {
      assert.deepEqual(leaks(path), [], `a file name: ${path}`);
      assert.deepEqual(leaks(readFileSync(path).toString('latin1')), [], `${path} (latin-1 bytes)`);
      assert.deepEqual(leaks(readFileSync(path, 'utf8')), [], `${path}`);
    }

    // Where they belong. The database:
    const store = ResultStore.open(database);
    const worklist = store.worklist();
    store.close();
    const names = worklist.map((s) => s.patient?.name).sort();
    assert.deepEqual(names, ['PHANTOM, 1', 'PHANTOM, 2', 'Ærøskøbing, Quintessa']);
    // The worklist, text and JSON, and its search:
    const text = triage(['worklist', '--db', database]);
    assert.equal(text.status, 0, text.stderr);
    assert.ok(text.stdout.includes(`Ærøskøbing, Quintessa · ID ${SPECIAL.id}`), text.stdout);
    assert.ok(text.stdout.includes(`acc ${SPECIAL.accession}`), text.stdout);
    const found = triage(['worklist', '--db', database, '--json', '--search', 'aeroskobing']);
    assert.deepEqual(JSON.parse(found.stdout), [], 'Æ is a letter of its own, not A with an accent');
    const search = JSON.parse(
      triage(['worklist', '--db', database, '--json', '--search', 'QUINTESSA']).stdout,
    ) as Array<{
      patient: { name: string; id: string; sex: string; age: string };
      accessionNumber: string;
      studyDate: string;
    }>;
    assert.equal(search.length, 1);
    assert.equal(search[0].patient.id, SPECIAL.id);
    assert.equal(search[0].accessionNumber, SPECIAL.accession);
    assert.match(search[0].studyDate, /^\d{4}-\d{2}-\d{2}$/);
    const byAccession = JSON.parse(
      triage(['worklist', '--db', database, '--json', '--search', 'ph2']).stdout,
    ) as Array<{
      patient: { id: string };
    }>;
    assert.deepEqual(
      byAccession.map((s) => s.patient.id),
      ['PHANTOM-2'],
    );
    // An export asked to carry them:
    const explicit = triage(
      ['scan', input, '--db', database, '--ep', 'cpu', '--out', join(scratch.path, 'p.csv'), '--include-patient'],
      { env },
    );
    assert.equal(explicit.status, 0, explicit.stderr);
    assert.deepEqual(leaks(explicit.stderr), []);
    const rows = csvRecords(readFileSync(join(scratch.path, 'p.csv'), 'utf8'));
    const row = rows.find((r) => r.file === special)!;
    assert.equal(row.patient_name, 'Ærøskøbing, Quintessa');
    assert.equal(row.patient_id, SPECIAL.id);
    assert.equal(row.accession_number, SPECIAL.accession);
    // Every name as shown, ID and accession number is found there (the DICOM form, "^", is not exported).
    const shown = secrets.filter((secret) => !secret.includes('^'));
    assert.deepEqual(
      leaks(readFileSync(join(scratch.path, 'p.csv'), 'utf8')).filter((secret) => !secret.includes('^')),
      shown,
      'the check finds them where they are',
    );
  });

  test('--include-patient needs --out', () => {
    const result = triage(['scan', PHANTOMS, '--include-patient']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /USAGE/);
  });
});
