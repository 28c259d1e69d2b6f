/**
 * The app's API handlers on the real engine, pack, store and phantom DICOMs, through the same
 * validated dispatch the window's requests take: every answer matches the contract's response
 * schema; malformed requests, files outside the worklist and impossible findings are refused with
 * codes; a scan fills the worklist in priority order with live progress; pixels, heatmaps and
 * feedback are what the engine and the store say.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API } from '../../main/app/api/contract.js';
import type { ApiChannel, ApiEvent, ApiEventPayload, ApiResponse } from '../../main/app/api/contract.js';
import { openBackend } from '../../main/app/api/backend.js';
import type { Backend } from '../../main/app/api/backend.js';
import { MAX_FILE_BYTES, storedPixels, readRadiograph, renderDisplay } from '../../main/ingest/index.js';
import { Engine } from '../../main/engine/index.js';
import { peak } from '../../main/explain/heatmap.js';
import { linearWindow } from '../../main/ingest/pixels/window.js';
import { PRIORITIES } from '../../main/common/index.js';
import { priorityRank } from '../../main/triage/index.js';
import { scratchDir } from '../support/tools.js';
import { appPack, DICOM_FIXTURES, makeReadingFolder } from './fixtures.js';

const scratch = scratchDir('app-api');
const folder = makeReadingFolder(join(scratch.path, 'reading'));
const events: Array<{ event: ApiEvent; payload: unknown }> = [];
let picked: string[] = [];
let backend: Backend;

async function call<C extends ApiChannel>(channel: C, request: unknown): Promise<ApiResponse<C>> {
  const envelope = await backend.invoke(channel, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  // Every answer is what the contract promises.
  const checked = API[channel].response.safeParse(envelope.value);
  assert.ok(
    checked.success,
    `${channel} answer does not match the contract: ${checked.success ? '' : checked.error.message}`,
  );
  return envelope.value as ApiResponse<C>;
}

async function refused(channel: string, request: unknown): Promise<{ code: string; message: string }> {
  const envelope = await backend.invoke(channel, request);
  assert.equal(envelope.ok, false, `${channel} ${JSON.stringify(request)} should be refused`);
  return (envelope as { ok: false; error: { code: string; message: string } }).error;
}

function scanEnded(): Promise<ApiEventPayload<'scan.progress'>> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const latest = [...events].reverse().find((e) => e.event === 'scan.progress')?.payload as
        ApiEventPayload<'scan.progress'> | undefined;
      if (latest && !latest.running && latest.queued === 0 && latest.last) {
        clearInterval(poll);
        resolve(latest);
      }
    }, 20);
  });
}

before(async () => {
  backend = await openBackend({
    packDir: appPack(),
    databasePath: join(scratch.path, 'results.sqlite'),
    provider: 'cpu',
    threads: 1,
    emit: (event, payload) => events.push({ event, payload }),
    chooseFiles: async () => picked,
  });
});

after(async () => {
  await backend?.close();
  scratch.remove();
});

describe('requests are validated before any handler runs', () => {
  test('unknown channels, extra keys, wrong types and relative paths are INVALID_REQUEST', async () => {
    assert.equal((await refused('engine.eval', {})).code, 'INVALID_REQUEST');
    assert.equal((await refused('__proto__', {})).code, 'INVALID_REQUEST');
    assert.equal((await refused('status.get', { extra: 1 })).code, 'INVALID_REQUEST');
    assert.equal((await refused('status.get', null)).code, 'INVALID_REQUEST');
    assert.equal((await refused('image.render', { file: 'relative/x.dcm' })).code, 'INVALID_REQUEST');
    assert.equal((await refused('image.render', { file: '/a\0b' })).code, 'INVALID_REQUEST');
    assert.equal((await refused('image.render', { file: 42 })).code, 'INVALID_REQUEST');
    assert.equal((await refused('scan.start', { paths: [] })).code, 'INVALID_REQUEST');
    assert.equal(
      (await refused('feedback.set', { file: '/x.dcm', term: 'nodule', tree: 'organ', verdict: 'agree' })).code,
      'INVALID_REQUEST',
    );
    const error = await refused('heatmap.get', { file: '/x.dcm', term: 'nodule', tree: 'finding' });
    assert.match(error.message, /model/, 'the message names the field');
  });

  test('a file that is not in the worklist is never read', async () => {
    const error = await refused('image.render', { file: join(DICOM_FIXTURES, 'explicit-le.dcm') });
    assert.equal(error.code, 'FILE_NOT_FOUND');
    assert.equal((await refused('image.render', { file: '/etc/passwd' })).code, 'FILE_NOT_FOUND');
    assert.equal(
      (await refused('scan.start', { paths: [join(scratch.path, 'no-such-folder')] })).code,
      'FILE_NOT_FOUND',
    );
  });
});

describe('a folder scan through the API', () => {
  let worklist: ApiResponse<'worklist.list'>;

  before(async () => {
    picked = [folder.dir];
    const opened = await call('dialog.open', { kind: 'folder' });
    assert.deepEqual(opened.paths, [folder.dir]);
    assert.equal(opened.scan.running, true);
    const end = await scanEnded();
    assert.equal(end.last?.outcome, 'completed');
    worklist = await call('worklist.list', {});
  });

  test('progress is pushed while it runs, and the worklist is told to refresh', () => {
    const progress = events
      .filter((e) => e.event === 'scan.progress')
      .map((e) => e.payload as ApiEventPayload<'scan.progress'>);
    assert.ok(
      progress.some((p) => p.running && p.done > 0),
      'a running progress with files done',
    );
    const final = progress[progress.length - 1];
    assert.equal(final.done, folder.phantoms.length + 3);
    assert.equal(final.total, folder.phantoms.length + 3);
    assert.ok(events.some((e) => e.event === 'worklist.changed'));
  });

  test('the worklist is in priority order and holds every file with its status', () => {
    const ranks = worklist.studies.map((s) => priorityRank(s.priority));
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
    );
    const files = worklist.studies.flatMap((s) => s.images.map((i) => i.file)).sort();
    assert.deepEqual(files, [...folder.phantoms, folder.lateral, folder.truncated, folder.unfamiliar].sort());
    const unfamiliar = worklist.studies.flatMap((s) => s.images).find((i) => i.file === folder.unfamiliar)!;
    assert.equal(unfamiliar.status, 'rejected');
    assert.equal(unfamiliar.priority, 'needs review');
    const lateral = worklist.studies.flatMap((s) => s.images).find((i) => i.file === folder.lateral)!;
    assert.equal(lateral.status, 'rejected');
    assert.equal(lateral.priority, 'needs review');
    assert.match(lateral.reason!, /lateral/);
    const truncated = worklist.studies.flatMap((s) => s.images).find((i) => i.file === folder.truncated)!;
    assert.equal(truncated.status, 'error');
    assert.equal(lateral.name, 'lateral.dcm');
    assert.deepEqual(Object.keys(worklist.counts).sort(), [...PRIORITIES].sort());
    assert.ok(
      new Set(worklist.studies.map((s) => s.priority)).size >= 3,
      'at least three priorities among the phantoms',
    );
  });

  test('status names the provider, the pack and its members, and the demo flag', async () => {
    const status = await call('status.get', {});
    assert.equal(status.provider, 'cpu');
    assert.equal(status.device, 'CPU');
    assert.equal(status.pack.members.length >= 1, true);
    assert.equal(status.notForClinicalUse, status.pack.demo || status.pack.members.some((m) => m.notForClinicalUse));
    assert.equal(status.scan.running, false);
  });

  test('a study carries every image with findings, provenance and the reason of a rejection', async () => {
    const study = worklist.studies.find((s) => s.images.some((i) => i.file === folder.lateral))!;
    const detail = await call('study.get', { study: study.study });
    const lateral = detail.images.find((i) => i.file === folder.lateral)!;
    assert.equal(lateral.status, 'rejected');
    assert.equal(lateral.heatmaps, false);
    const positive = worklist.studies.find((s) => s.images.some((i) => i.findings.length > 0))!;
    const full = await call('study.get', { study: positive.study });
    const image = full.images.find((i) => i.findings.some((f) => f.positive))!;
    assert.ok(image.models.length > 0 && image.models.every((m) => m.sha256.length === 64));
    assert.equal(image.heatmaps, true);
    assert.equal((await refused('study.get', { study: 'no such study' })).code, 'FILE_NOT_FOUND');
  });

  test('decoded pixels are the modality values as stored, with the file’s window', async () => {
    const file = folder.phantoms[1]; // MONOCHROME1, 16 bits, VOI LUT
    const rendered = await call('image.render', { file });
    const radiograph = await readRadiograph(file);
    assert.equal(rendered.rows, radiograph.rows);
    assert.equal(rendered.columns, radiograph.columns);
    assert.equal(rendered.invert, true);
    assert.ok(rendered.voiLut, 'the VOI LUT travels with the image');
    const stored = rendered.pixelType === 'uint16' ? new Uint16Array(rendered.pixels) : new Int16Array(rendered.pixels);
    assert.equal(stored.length, radiograph.rows * radiograph.columns);
    for (let i = 0; i < stored.length; i += 97)
      assert.equal(stored[i] * rendered.slope + rendered.intercept, radiograph.pixels[i]);
  });

  test('a positive finding’s heatmap is the engine’s, for the ensemble and for each member that voted', async () => {
    const image = worklist.studies.flatMap((s) => s.images).find((i) => i.findings.some((f) => f.votes.positive >= 2))!;
    const finding = image.findings.find((f) => f.votes.positive >= 2)!;
    const ensemble = await call('heatmap.get', {
      file: image.file,
      term: finding.term,
      tree: finding.tree as 'finding',
      model: null,
    });
    assert.ok(ensemble.members.length >= 2);
    const values = new Float32Array(ensemble.data);
    assert.equal(values.length, ensemble.rows * ensemble.columns);
    // Independently: the engine's own analysis of the same file.
    const engine = await Engine.create({ models: appPack(), provider: 'cpu', threads: 1 });
    try {
      let heatmaps;
      for await (const analysis of engine.analyze([image.file])) heatmaps = analysis.heatmaps;
      const expected = heatmaps!.get(finding.term)!;
      assert.deepEqual(ensemble.peak, peak(expected.ensemble));
      assert.deepEqual([...values.slice(0, 64)], [...expected.ensemble.data.slice(0, 64)]);
      const member = ensemble.members[0];
      const one = await call('heatmap.get', {
        file: image.file,
        term: finding.term,
        tree: finding.tree as 'finding',
        model: member,
      });
      assert.deepEqual(one.peak, peak(expected.perModel[member]));
    } finally {
      await engine.close();
    }
    const negative = (
      await call('study.get', {
        study: worklist.studies.find((s) => s.images.some((i) => i.file === image.file))!.study,
      })
    ).images
      .find((i) => i.file === image.file)!
      .findings.find((f) => !f.positive)!;
    assert.equal(
      (await refused('heatmap.get', { file: image.file, term: negative.term, tree: negative.tree, model: null })).code,
      'INVALID_REQUEST',
    );
    assert.equal(
      (await refused('heatmap.get', { file: image.file, term: finding.term, tree: finding.tree, model: 'nobody' }))
        .code,
      'INVALID_REQUEST',
    );
    assert.equal(
      (await refused('heatmap.get', { file: folder.lateral, term: 'nodule', tree: 'finding', model: null })).code,
      'INVALID_REQUEST',
    );
  });

  test('feedback is stored with its time, replaced by a later verdict, and withdrawn', async () => {
    const image = worklist.studies.flatMap((s) => s.images).find((i) => i.findings.length > 0)!;
    const term = image.findings[0].term;
    const before = Date.now();
    const first = await call('feedback.set', { file: image.file, term, tree: 'finding', verdict: 'agree' });
    assert.deepEqual(
      first.feedback.map((f) => [f.term, f.verdict]),
      [[term, 'agree']],
    );
    assert.ok(Date.parse(first.feedback[0].at) >= before - 1000);
    const second = await call('feedback.set', { file: image.file, term, tree: 'finding', verdict: 'disagree' });
    assert.deepEqual(
      second.feedback.map((f) => f.verdict),
      ['disagree'],
    );
    const list = await call('worklist.list', {});
    assert.equal(list.studies.find((s) => s.images.some((i) => i.file === image.file))!.reviewed, 1);
    const withdrawn = await call('feedback.set', { file: image.file, term, tree: 'finding', verdict: null });
    assert.deepEqual(withdrawn.feedback, []);
    assert.equal(
      (await refused('feedback.set', { file: image.file, term: 'fracture', tree: 'finding', verdict: 'agree' })).code,
      'INVALID_REQUEST',
    );
  });

  test('a term no model assesses is shown as such, with no heatmap and no verdict to give', async () => {
    // The demo pack's nodule heads are untrained in every member.
    const image = worklist.studies.flatMap((s) => s.images).find((i) => i.status === 'ok')!;
    assert.deepEqual(image.notAssessed, [{ term: 'nodule', tree: 'finding' }]);
    const study = worklist.studies.find((s) => s.images.includes(image))!;
    const detail = (await call('study.get', { study: study.study })).images.find((i) => i.file === image.file)!;
    const nodule = detail.findings.find((f) => f.term === 'nodule')!;
    assert.deepEqual(
      [nodule.assessed, nodule.positive, nodule.direct, nodule.probability, nodule.votes],
      [false, false, false, null, { positive: 0, total: 0 }],
    );
    assert.equal(
      (await refused('heatmap.get', { file: image.file, term: 'nodule', tree: 'finding', model: null })).code,
      'INVALID_REQUEST',
    );
    const verdict = await refused('feedback.set', {
      file: image.file,
      term: 'nodule',
      tree: 'finding',
      verdict: 'agree',
    });
    assert.equal(verdict.code, 'INVALID_REQUEST');
    assert.match(verdict.message, /not assessed/);
  });

  test('a file gone since its scan: pixels and heatmaps fail with the coded reason', async () => {
    // The last positive image: no earlier test asked for its heatmap (the handlers cache a few analyses).
    const image = worklist.studies
      .flatMap((s) => s.images)
      .reverse()
      .find((i) => i.findings.length > 0)!;
    const moved = `${image.file}.moved`;
    renameSync(image.file, moved);
    try {
      assert.equal((await refused('image.render', { file: image.file })).code, 'FILE_NOT_FOUND');
      const error = await refused('heatmap.get', {
        file: image.file,
        term: image.findings[0].term,
        tree: image.findings[0].tree,
        model: null,
      });
      assert.equal(error.code, 'FILE_NOT_FOUND');
    } finally {
      renameSync(moved, image.file);
    }
  });

  test('a file swapped for another since its scan: its pixels are not shown, nor heatmaps computed (FILE_CHANGED)', async () => {
    // Another image of the worklist now lies at this path, as after an overwrite or a link swap.
    const images = worklist.studies.flatMap((s) => s.images).filter((i) => i.status === 'ok');
    const [target, other] = images.filter((i) => i.findings.length > 0).slice(-2);
    const saved = `${target.file}.saved`;
    renameSync(target.file, saved);
    copyFileSync(other.file, target.file);
    try {
      const render = await refused('image.render', { file: target.file });
      assert.equal(render.code, 'FILE_CHANGED');
      assert.match(render.message, /changed since it was analysed/);
      const heatmap = await refused('heatmap.get', {
        file: target.file,
        term: target.findings[0].term,
        tree: target.findings[0].tree,
        model: null,
      });
      assert.equal(heatmap.code, 'FILE_CHANGED');
    } finally {
      renameSync(saved, target.file);
    }
    // The original content back: shown again.
    assert.equal((await call('image.render', { file: target.file })).file, target.file);
  });

  test('a cancelled dialog scans nothing; cancelling with nothing running says so', async () => {
    picked = [];
    const opened = await call('dialog.open', { kind: 'files' });
    assert.deepEqual(opened.paths, []);
    assert.equal(opened.scan.running, false);
    const cancel = await call('scan.cancel', {});
    assert.equal(cancel.cancelled, false);
  });

  test('a second scan of the same folder finds everything unchanged', async () => {
    events.length = 0;
    await call('scan.start', { paths: [folder.dir] });
    const end = await scanEnded();
    assert.equal(end.last?.outcome, 'completed');
    assert.equal(end.last?.analysed, 0);
  });

  test('a file the scan could not read has no fingerprint: its pixels are not shown later (FILE_CHANGED)', async () => {
    const unread = join(scratch.path, 'unread');
    mkdirSync(unread);
    const file = join(unread, 'big.dcm');
    // Sparse: larger than the ingest reads, so the scan records it unread (FILE_TOO_LARGE).
    copyFileSync(join(DICOM_FIXTURES, 'explicit-le.dcm'), file);
    truncateSync(file, MAX_FILE_BYTES + 1);
    picked = [unread];
    events.length = 0;
    await call('dialog.open', { kind: 'folder' });
    assert.equal((await scanEnded()).last?.outcome, 'completed');
    // A readable radiograph at that path now: nothing on record says it is what was scanned.
    copyFileSync(join(DICOM_FIXTURES, 'explicit-le.dcm'), file);
    const render = await refused('image.render', { file });
    assert.equal(render.code, 'FILE_CHANGED');
    assert.match(render.message, /could not be read when it was scanned/);
  });
});

describe('pixels for the viewer', () => {
  test('padding renders black under the file’s window, MONOCHROME1 or 2', async () => {
    for (const name of ['padding.dcm', 'monochrome1.dcm', 'signed-rescale.dcm']) {
      const radiograph = await readRadiograph(join(DICOM_FIXTURES, name));
      const out = storedPixels(radiograph);
      const Type = out.pixelType === 'uint16' ? Uint16Array : out.pixelType === 'int16' ? Int16Array : Int32Array;
      const stored = new Type(out.pixels);
      const display = renderDisplay(radiograph);
      let worst = 0;
      for (let i = 0; i < stored.length; i++) {
        const level = linearWindow(stored[i] * out.slope + out.intercept, radiograph.window);
        const shown = Math.floor(radiograph.invert ? 255 - level : level);
        worst = Math.max(worst, Math.abs(Math.min(255, shown) - display.pixels[i]));
      }
      assert.ok(worst <= 1, `${name}: the stored values render as the engine renders them (worst ${worst})`);
      if (radiograph.padding) assert.ok(out.minStored < out.modalityRange.min || out.maxStored > out.modalityRange.max);
    }
  });
});
