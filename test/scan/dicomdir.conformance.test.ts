/**
 * DICOMDIRs as dcmtk's dcmmkdir writes them (an independent writer): the scan follows the
 * referenced files, whatever the case of their names on the disk, and never reads one twice. A
 * DICOMDIR that references itself, or two that reference each other (through a symbolic link),
 * are followed once each: the reference back is an INVALID_DICOMDIR result, and the scan ends.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Engine } from '../../main/engine/index.js';
import { ResultStore } from '../../main/store/index.js';
import { Scanner } from '../../main/scan/index.js';
import { defaultRules } from '../../main/triage/index.js';
import { scratchDir, tool } from '../support/tools.js';
import { CAM_PACK, copyFixture } from './fixtures.js';

const scratch = scratchDir('scan-dicomdir');
after(() => scratch.remove());

let engine: Engine;
before(async () => {
  engine = await Engine.create({ models: CAM_PACK, provider: 'cpu', threads: 1, batchSize: 4 });
});
after(() => engine?.close());

async function run(store: ResultStore, roots: string[]) {
  const summary = await new Scanner({ roots, engine, store, rules: defaultRules() }).run();
  return { summary, results: [...store.scanResults(summary.scanId)] };
}

/** A DICOMDIR written by dcmmkdir in `folder` for the files named (relative, with "/"). */
function dcmmkdir(folder: string, files: string[]): string {
  const dicomdir = join(folder, 'DICOMDIR');
  tool('dcmmkdir', ['+I', '+id', folder, '--output-file', dicomdir, ...files], { cwd: folder });
  return dicomdir;
}

/**
 * Rewrites one Referenced File ID in a DICOMDIR, in place: `from` and `to` have the same length,
 * so every length in the file stays right. The reference then names another file.
 */
function rewriteReference(dicomdir: string, from: string, to: string): void {
  assert.equal(from.length, to.length);
  const bytes = readFileSync(dicomdir);
  const at = bytes.indexOf(Buffer.from(from, 'latin1'));
  assert.ok(at >= 0 && bytes.indexOf(Buffer.from(from, 'latin1'), at + 1) < 0, `"${from}" once in ${dicomdir}`);
  bytes.write(to, at, 'latin1');
  writeFileSync(dicomdir, bytes);
}

/**
 * Sets Referenced File IDs of a DICOMDIR's records (by their index in the Directory Record
 * Sequence) at any length, with dcmodify. dcmodify writes the data set only (it would replace the
 * meta group's Media Storage SOP Class with a private one); the file keeps its own meta group.
 * The records' offsets go stale: readers that follow the sequence, as this one and gdcm do, are
 * not misled by them.
 */
function setReferences(dicomdir: string, ids: Record<number, string>): void {
  const original = readFileSync(dicomdir);
  // The meta group ends its group length (an explicit UL at byte 132) after its first element.
  const metaEnd = 144 + original.readUInt32LE(140);
  const edits = Object.entries(ids).flatMap(([index, id]) => ['-m', `(0004,1220)[${index}].(0004,1500)=${id}`]);
  tool('dcmodify', ['-nb', '-F', ...edits, dicomdir]);
  writeFileSync(dicomdir, Buffer.concat([original.subarray(0, metaEnd), readFileSync(dicomdir)]));
}

describe('DICOMDIR', () => {
  test('the referenced files are analysed, found whatever the case of their names', async () => {
    const dir = join(scratch.path, 'dicomdir');
    const media = join(dir, 'media');
    copyFixture('explicit-le.dcm', join(media, 'IMAGES', 'IM000001'));
    copyFixture('no-window.dcm', join(media, 'IMAGES', 'IM000002'));
    tool(
      'dcmmkdir',
      ['+I', '+id', media, '--output-file', join(media, 'DICOMDIR'), 'IMAGES/IM000001', 'IMAGES/IM000002'],
      { cwd: media },
    );
    // Copied onto a case-sensitive file system in lower case.
    renameSync(join(media, 'IMAGES'), join(media, 'images'));
    renameSync(join(media, 'images', 'IM000002'), join(media, 'images', 'im000002'));
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const viaDicomdir = await run(store, [join(media, 'DICOMDIR')]);
    assert.deepEqual(
      viaDicomdir.results.map((r) => [r.file, r.status]),
      [
        [join(media, 'images', 'IM000001'), 'ok'],
        [join(media, 'images', 'im000002'), 'ok'],
      ],
    );
    assert.equal(viaDicomdir.summary.skipped, 1, 'the DICOMDIR itself is not an image');
    // Walking the folder finds the same files once each.
    const viaFolder = await run(store, [media]);
    assert.deepEqual([viaFolder.summary.analysed, viaFolder.summary.unchanged, viaFolder.summary.skipped], [0, 2, 1]);
    store.close();
  });
});

describe('Referenced File IDs that are no file ID', () => {
  test('too many components, an overlong one, or a way out: each an error named by position, the rest analysed', async () => {
    const dir = join(scratch.path, 'ids');
    const media = join(dir, 'media');
    copyFixture('explicit-le.dcm', join(media, 'IM000001'));
    copyFixture('no-window.dcm', join(media, 'IMAGES', 'IM000002'));
    copyFixture('monochrome1.dcm', join(media, 'IMAGES', 'IM000003'));
    copyFixture('padding.dcm', join(media, 'IMAGES', 'IM000004'));
    const dicomdir = dcmmkdir(media, ['IM000001', 'IMAGES/IM000002', 'IMAGES/IM000003', 'IMAGES/IM000004']);
    const deep = Array.from({ length: 17 }, () => 'A').join('\\');
    const long = 'X'.repeat(100);
    setReferences(dicomdir, { 3: deep, 5: `IMAGES\\${long}`, 6: '..\\IM000001' });
    // gdcm reads the rewritten IDs (dcmdump 3.6.7 aborts printing a record with an ID this long).
    assert.match(tool('gdcmdump', [dicomdir]), /\[A\\A\\A/);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [dicomdir]);
    store.close();
    assert.equal(summary.outcome, 'completed');
    const errors = results.filter((r) => r.status === 'error');
    assert.deepEqual(
      errors.map((r) => [r.file, r.error?.code]),
      [1, 2, 3].map((n) => [`${dicomdir}#invalid-${n}`, 'INVALID_DICOMDIR']),
    );
    for (const error of errors) assert.ok(error.error!.message.length < 200, error.error!.message);
    assert.deepEqual(
      results.filter((r) => r.status !== 'error').map((r) => r.file),
      [join(media, 'IMAGES', 'IM000002')],
    );
  });
});

describe('DICOMDIR cycles', () => {
  test('a DICOMDIR that references itself: one INVALID_DICOMDIR result, the other files analysed', async () => {
    const dir = join(scratch.path, 'self');
    const media = join(dir, 'media');
    copyFixture('explicit-le.dcm', join(media, 'IM000001'));
    copyFixture('no-window.dcm', join(media, 'IMAGES', 'IM000002'));
    const dicomdir = dcmmkdir(media, ['IM000001', 'IMAGES/IM000002']);
    rewriteReference(dicomdir, 'IM000001', 'DICOMDIR');
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [dicomdir]);
    store.close();
    assert.equal(summary.outcome, 'completed');
    assert.deepEqual(
      results.map((r) => [r.file, r.status, r.error?.code ?? null]),
      [
        [`${dicomdir}#DICOMDIR`, 'error', 'INVALID_DICOMDIR'],
        [join(media, 'IMAGES', 'IM000002'), 'ok', null],
      ],
    );
    assert.equal(summary.skipped, 1, 'the DICOMDIR itself, once');
  });

  test('two DICOMDIRs that reference each other: each followed once, the reference back an error', async () => {
    const dir = join(scratch.path, 'cycle');
    const media = join(dir, 'media');
    const sub = join(media, 'SUB');
    copyFixture('explicit-le.dcm', join(media, 'IMAGES', 'IM000001'));
    copyFixture('no-window.dcm', join(sub, 'IM000002'));
    copyFixture('monochrome1.dcm', join(sub, 'IMAGES', 'IM000003'));
    copyFixture('padding.dcm', join(sub, 'XX', 'IM000004'));
    // SUB's DICOMDIR, then the outer one that references it (in place of SUB/IM000002).
    const inner = dcmmkdir(sub, ['IMAGES/IM000003', 'XX/IM000004']);
    const outer = dcmmkdir(media, ['IMAGES/IM000001', 'SUB/IM000002']);
    rewriteReference(outer, 'SUB\\IM000002', 'SUB\\DICOMDIR');
    // The inner one references the outer one back, through SUB/UP, a link to the media's root.
    rewriteReference(inner, 'XX\\IM000004', 'UP\\DICOMDIR');
    symlinkSync('..', join(sub, 'UP'));
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [outer]);
    store.close();
    assert.equal(summary.outcome, 'completed');
    assert.deepEqual(
      results.map((r) => [r.file, r.status === 'error' ? r.error?.code : 'analysed']).sort(),
      [
        [`${inner}#UP\\DICOMDIR`, 'INVALID_DICOMDIR'],
        [join(media, 'IMAGES', 'IM000001'), 'analysed'],
        [join(sub, 'IMAGES', 'IM000003'), 'analysed'],
      ].sort(),
    );
    assert.equal(summary.skipped, 2, 'the two DICOMDIRs, once each');
  });
});
