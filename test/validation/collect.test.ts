// Which files an evaluation reads: only labelled ones under the paths, symbolic links resolved, so
// that a labels file cannot send the scan anywhere else.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ageBand, scanRoots } from '../../main/validation/index.js';

test('labelled files are read only when they lie under the paths once links are resolved', async () => {
  const root = mkdtempSync(join(tmpdir(), 'scan-roots-'));
  const inside = join(root, 'site');
  const outside = join(root, 'elsewhere');
  mkdirSync(join(inside, 'sub'), { recursive: true });
  mkdirSync(outside);
  for (const file of [join(inside, 'a.dcm'), join(inside, 'sub', 'b.dcm'), join(outside, 'c.dcm')])
    writeFileSync(file, 'x');
  symlinkSync(join(outside, 'c.dcm'), join(inside, 'escape.dcm'));
  symlinkSync(outside, join(inside, 'dirlink'));
  symlinkSync(join(inside, 'a.dcm'), join(inside, 'sub', 'alias.dcm'));
  const keys = [
    join(inside, 'a.dcm'),
    join(inside, 'sub', 'b.dcm'),
    join(inside, 'sub', 'alias.dcm'),
    join(inside, 'escape.dcm'),
    join(inside, 'dirlink', 'c.dcm'),
    join(outside, 'c.dcm'),
    join(inside, 'absent.dcm'),
    `${inside}-sibling/x.dcm`,
  ];
  const rows = keys.map((key) => ({ key, patient: null, values: [1 as const] }));
  assert.deepEqual(await scanRoots([inside], { keyColumn: 'file', rows }), keys.slice(0, 3));
  // A link to the folder as the path is the folder.
  symlinkSync(inside, join(root, 'site-link'));
  assert.deepEqual(await scanRoots([join(root, 'site-link')], { keyColumn: 'file', rows }), keys.slice(0, 3));
  // SOP Instance UIDs: only the files say which is which, so the paths are walked whole.
  assert.deepEqual(await scanRoots([inside], { keyColumn: 'sopInstanceUID', rows }), [inside]);
});

test('ages fall into bands; what is not a DICOM age is unknown', () => {
  assert.deepEqual(
    ['006M', '017Y', '018Y', '039Y', '040Y', '079Y', '080Y', '104Y', '003W', null, '58', '058y'].map(ageBand),
    ['0-17', '0-17', '18-39', '18-39', '40-59', '60-79', '80+', '80+', '0-17', 'unknown', 'unknown', 'unknown'],
  );
});
