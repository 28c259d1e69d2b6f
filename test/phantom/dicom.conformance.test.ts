/** Phantom files: dciodvfy validity, round trips through the ingest reader, MONOCHROME1 rendering. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeRadiograph, readRadiograph, renderDisplay } from '../../main/ingest/index.js';
import { Frame } from '../../main/phantom/acquisition.js';
import { encodePhantom, encodePhantomDicom, generatePhantom, imageFileName } from '../../main/phantom/index.js';
import type { Phantom, PhantomOptions } from '../../main/phantom/index.js';
import { requireProgram } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('phantom-dicom');
after(() => scratch.remove());

/** dciodvfy's report (it writes to stderr). A missing tool fails the test: a check that silently skips proves nothing. */
function dciodvfy(file: string): string[] {
  const result = spawnSync(requireProgram('dciodvfy'), [file], { encoding: 'latin1' });
  return `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
}

/** One file per stored bit depth and photometric interpretation, with every VOI kind and with and without padding. */
function variants(): { name: string; options: PhantomOptions; index: number }[] {
  const out: { name: string; options: PhantomOptions; index: number }[] = [];
  let k = 0;
  for (const bitsStored of [10, 12, 14, 16]) {
    for (const photometric of ['MONOCHROME1', 'MONOCHROME2'] as const) {
      const window = (['single', 'multiple', 'lut'] as const)[k % 3];
      const padding = k % 2 === 0;
      out.push({
        name: `${bitsStored}-${photometric}-${window}${padding ? '-padded' : ''}`,
        index: k + 1,
        options: { size: 256, bitsStored, photometric, window, padding },
      });
      k++;
    }
  }
  return out;
}

test('every phantom DICOM passes dciodvfy without errors', (t) => {
  const warnings = new Set<string>();
  for (const variant of variants()) {
    const phantom = generatePhantom(11, variant.index, variant.options);
    const file = join(scratch.path, `${variant.name}.dcm`);
    writeFileSync(file, encodePhantomDicom(phantom));
    const report = dciodvfy(file);
    const errors = report.filter((line) => /^(Error|Abort)/.test(line));
    assert.deepEqual(errors, [], `${variant.name}: ${report.join('\n')}`);
    for (const line of report.filter((l) => l.startsWith('Warning'))) warnings.add(line);
  }
  t.diagnostic(warnings.size === 0 ? 'dciodvfy: no warnings' : `dciodvfy warnings: ${[...warnings].join(' | ')}`);
});

test('without any VOI (only on request) dciodvfy misses exactly the window or VOI LUT a DX for presentation needs', () => {
  const phantom = generatePhantom(11, 2, { size: 200, window: 'none' });
  const file = join(scratch.path, 'no-voi.dcm');
  writeFileSync(file, encodePhantomDicom(phantom));
  const errors = dciodvfy(file).filter((line) => line.startsWith('Error'));
  assert.ok(errors.length > 0);
  for (const line of errors) assert.match(line, /<(WindowCenter|VOILUTSequence)>/);
});

function assertSameValues(decoded: Float32Array, phantom: Phantom): void {
  assert.equal(decoded.length, phantom.stored.length);
  for (let i = 0; i < decoded.length; i++) {
    if (decoded[i] !== phantom.stored[i])
      assert.fail(`pixel ${i}: decoded ${decoded[i]}, generated ${phantom.stored[i]}`);
  }
}

test('every phantom DICOM decodes with readRadiograph to exactly the generated stored values', async () => {
  for (const variant of variants()) {
    const phantom = generatePhantom(11, variant.index, variant.options);
    const file = join(scratch.path, `rt-${variant.name}.dcm`);
    writeFileSync(file, encodePhantomDicom(phantom));
    const r = await readRadiograph(file);
    assert.equal(r.rows, phantom.rows);
    assert.equal(r.columns, phantom.columns);
    assert.equal(r.bitsAllocated, 16);
    assert.equal(r.bitsStored, phantom.bitsStored);
    assert.equal(r.photometric, phantom.photometric);
    assert.equal(r.invert, phantom.photometric === 'MONOCHROME1');
    assertSameValues(r.pixels, phantom);
    const expectedSource = { single: 'dicom-window', multiple: 'dicom-window', lut: 'voi-lut', none: 'automatic' }[
      phantom.acquisition.window
    ];
    assert.equal(r.window.source, expectedSource, variant.name);
    if (phantom.windows.length > 0)
      assert.deepEqual([r.window.center, r.window.width], [phantom.windows[0].center, phantom.windows[0].width]);
    // Padding: exactly the pixels outside the exposed field.
    const { field } = phantom.acquisition;
    if (phantom.paddingValue !== null && phantom.acquisition.collimated) {
      assert.ok(r.padding, `${variant.name}: padding is marked`);
      for (let y = 0; y < phantom.rows; y += 7) {
        for (let x = 0; x < phantom.columns; x += 7) {
          const outside = y < field.top || y > field.bottom || x < field.left || x > field.right;
          assert.equal(r.padding![y * phantom.columns + x], outside ? 1 : 0);
        }
      }
    } else {
      assert.equal(r.padding, null);
    }
    const m = r.metadata;
    assert.equal(m.sopClassUID, '1.2.840.10008.5.1.4.1.1.1.1');
    assert.equal(m.sopInstanceUID, phantom.study.sopInstanceUID);
    assert.equal(m.studyInstanceUID, phantom.study.studyInstanceUID);
    assert.equal(m.modality, 'DX');
    assert.equal(m.bodyPartExamined, 'CHEST');
    assert.equal(m.viewPosition, phantom.view);
    assert.equal(m.imageLaterality, 'U');
    assert.deepEqual(m.patientOrientation, ['L', 'F']);
    assert.equal(m.patientSex, phantom.study.sex);
    assert.match(m.patientAge ?? '', /^\d{3}Y$/);
    assert.ok(
      m.pixelSpacing &&
        Math.abs(
          m.pixelSpacing[0] -
            phantom.acquisition.spacing *
              (phantom.acquisition.pixelSpacingAttribute ? 1 : phantom.acquisition.magnification),
        ) < 1e-4,
    );
  }
});

test('PNG phantoms (8 and 16 bit grey) decode to exactly the generated values', async () => {
  for (const bitsStored of [8, 16]) {
    const phantom = generatePhantom(5, 4, { format: 'png', size: 256, bitsStored });
    const file = join(scratch.path, imageFileName(phantom));
    writeFileSync(file, encodePhantom(phantom));
    const r = await readRadiograph(file);
    assert.equal(r.format, 'png');
    assert.equal(r.bitsStored, bitsStored);
    assert.equal(r.photometric, 'MONOCHROME2');
    assertSameValues(r.pixels, phantom);
  }
});

/** Mean display level of a 7 x 7 patch around a patient point (mm). */
function patchMean(display: Uint8Array, phantom: Phantom, u: number, v: number): number {
  const frame = new Frame(phantom.acquisition);
  const cx = Math.round(frame.x(u, v));
  const cy = Math.round(frame.y(u, v));
  let sum = 0;
  for (let dy = -3; dy <= 3; dy++)
    for (let dx = -3; dx <= 3; dx++) sum += display[(cy + dy) * phantom.columns + cx + dx];
  return sum / 49;
}

test('MONOCHROME1 phantoms render like their MONOCHROME2 twins: bone and mediastinum bright, lungs dark', async () => {
  for (const window of ['single', 'lut', 'none'] as const) {
    const displays = [];
    for (const photometric of ['MONOCHROME1', 'MONOCHROME2'] as const) {
      const phantom = generatePhantom(3, 0, { size: 300, photometric, window, bitsStored: 12 });
      const r = await decodeRadiograph(`${photometric}.dcm`, encodePhantomDicom(phantom));
      displays.push({ phantom, display: renderDisplay(r).pixels });
    }
    const [m1, m2] = displays;
    let worst = 0;
    for (let i = 0; i < m1.display.length; i++) worst = Math.max(worst, Math.abs(m1.display[i] - m2.display[i]));
    assert.ok(worst <= 2, `${window}: MONOCHROME1 and MONOCHROME2 displays differ by up to ${worst} levels`);
    // The stored values really are inverted.
    const full = 2 ** 12 - 1;
    assert.equal(m1.phantom.stored[5000], full - m2.phantom.stored[5000]);
    for (const { phantom, display } of displays) {
      const mediastinum = patchMean(display, phantom, 0, 60); // heart over the spine
      const rightLung = patchMean(display, phantom, -85, -30);
      const leftLung = patchMean(display, phantom, 90, -30);
      assert.ok(
        mediastinum > rightLung + 40 && mediastinum > leftLung + 40,
        `${window} ${phantom.photometric}: mediastinum ${mediastinum}, lungs ${rightLung} and ${leftLung}`,
      );
    }
  }
});
