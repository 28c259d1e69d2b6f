/**
 * DICOMDIRs as dcmtk's dcmmkdir writes them (an independent writer): the scan follows the
 * referenced files, whatever the case of their names on the disk, and never reads one twice.
 */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
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
