/**
 * A validation through the app's API, on the real engine, demonstration pack and stores: the
 * dialog (a stand-in for Electron's, granting what it answers as the shell does) picks a folder of
 * labelled phantoms and their labels.csv; validation.start runs it in the background with
 * validation.changed events; the evaluation it answers is the metrics.json it wrote, figure for
 * figure; a second run reuses every result from the validations' own database (never the
 * worklist's); a path the user never picked is refused by the shell's window policy with
 * PATH_NOT_GRANTED; a labels column that is no PadChest term ends the run as UNKNOWN_TERM, a
 * message without a stack. Nothing logged carries the phantoms' patient names or IDs.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { API } from '../../main/app/api/contract.js';
import type { ApiChannel, ApiEvent, ApiResponse, ValidationStateData } from '../../main/app/api/contract.js';
import { openBackend } from '../../main/app/api/backend.js';
import type { Backend } from '../../main/app/api/backend.js';
import { VALIDATIONS_DATABASE, VALIDATIONS_FOLDER } from '../../main/validation/index.js';
import { handleInvoke } from '../../main/app/shell/ipc.js';
import type { InvokeContext } from '../../main/app/shell/ipc.js';
import { ENTRY_URL } from '../../main/app/shell/origin.js';
import { pathSemantics } from '../../main/app/shell/reach.js';
import { WindowPolicy } from '../../main/app/shell/window-policy.js';
import type { ChooserKind } from '../../main/common/index.js';
import { setLogSink } from '../../main/log/index.js';
import { writePhantomSet } from '../../main/phantom/index.js';
import { scratchDir } from '../support/tools.js';
import { appPack } from './fixtures.js';

const scratch = scratchDir('app-validation');
const phantoms = join(scratch.path, 'labelled');
const labels = join(phantoms, 'labels.csv');
const appData = join(scratch.path, 'app');
const COUNT = 24;
const logLines: string[] = [];
const events: Array<{ event: ApiEvent; payload: unknown }> = [];
const chosen: ChooserKind[] = [];
/** The paths the backend asked the main process to open (validation.openReport). */
const opened: string[] = [];
let answer: (kind: ChooserKind) => string[] = () => [];

/** The shell's side, as install.ts wires it: the window policy checks every request; the dialog grants. */
const WINDOW = 1;
const policy = new WindowPolicy({
  semantics: pathSemantics(process.platform),
  stored: async (paths) => ({ ok: true, value: backend.stored(paths) }),
});
let backend: Backend;
const context: InvokeContext = {
  schemas: API,
  windowContentsId: () => WINDOW,
  run: (channel, request) => backend.invoke(channel, request),
  check: (windowId, channel, request) => policy.check(windowId, channel, request),
};
const fromWindow = { sender: { id: WINDOW }, senderFrame: { url: ENTRY_URL, parent: null } };

async function call<C extends ApiChannel>(channel: C, request: unknown): Promise<ApiResponse<C>> {
  const envelope = await handleInvoke(context, channel, fromWindow, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  const checked = API[channel].response.safeParse(envelope.value);
  assert.ok(checked.success, `${channel} answer does not match the contract`);
  return envelope.value as ApiResponse<C>;
}

async function refused(channel: ApiChannel, request: unknown) {
  const envelope = await handleInvoke(context, channel, fromWindow, request);
  assert.equal(envelope.ok, false, `${channel} ${JSON.stringify(request)} should be refused`);
  return (envelope as { ok: false; error: { code: string; message: string } }).error;
}

async function ended(): Promise<ValidationStateData> {
  const end = Date.now() + 240_000;
  for (;;) {
    const state = await call('validation.get', {});
    if (state.state !== 'running') return state;
    if (Date.now() > end) throw new Error('the validation did not end in 240 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const validationEvents = () =>
  events.filter((e) => e.event === 'validation.changed').map((e) => e.payload as { state: string });

let restoreLog: ((line: string) => void) | null = null;
before(async () => {
  process.env.TRIAGE_LOG = 'info';
  restoreLog = setLogSink((line) => logLines.push(line));
  await writePhantomSet({ out: phantoms, count: COUNT, seed: 61021, jobs: 1 });
  mkdirSync(appData, { recursive: true });
  backend = await openBackend({
    packDir: appPack(),
    databasePath: join(appData, 'results.sqlite'),
    provider: 'cpu',
    threads: 1,
    emit: (event, payload) => events.push({ event, payload }),
    chooseFiles: async (kind) => {
      chosen.push(kind);
      const paths = answer(kind);
      // The dialog's answer is granted to the window, as install.ts grants it.
      policy.grant(WINDOW, paths);
      return paths;
    },
    openReport: (path) => void opened.push(path),
  });
});

after(async () => {
  await backend?.close();
  if (restoreLog) setLogSink(restoreLog);
  if (!process.env.KEEP_SCRATCH) scratch.remove();
});

test('before any validation the state is idle, with no figures and no report to open', async () => {
  const state = await call('validation.get', {});
  assert.equal(state.state, 'idle');
  assert.equal(state.evaluation, null);
  assert.equal(state.reportPath, null);
  assert.deepEqual(await call('validation.openReport', {}), { opened: false, reportPath: null });
  assert.deepEqual(opened, []);
});

test('a path the user never picked is refused with PATH_NOT_GRANTED, before anything runs', async () => {
  const error = await refused('validation.start', { images: [phantoms], labels });
  assert.equal(error.code, 'PATH_NOT_GRANTED');
  assert.equal((await call('validation.get', {})).state, 'idle');
  assert.equal((await refused('validation.start', { images: [], labels })).code, 'INVALID_REQUEST');
  assert.equal((await refused('validation.choose', { kind: 'files' })).code, 'INVALID_REQUEST');
});

test('choose: a folder dialog for the images, a CSV dialog for the labels; cancelled is null; nothing is scanned', async () => {
  answer = () => [];
  assert.deepEqual(await call('validation.choose', { kind: 'labels' }), { path: null });
  answer = (kind) => (kind === 'folder' ? [phantoms] : [labels]);
  assert.deepEqual(await call('validation.choose', { kind: 'images' }), { path: phantoms });
  assert.deepEqual(await call('validation.choose', { kind: 'labels' }), { path: labels });
  assert.deepEqual(chosen, ['labels', 'folder', 'labels']);
  assert.equal(events.filter((e) => e.event === 'scan.progress').length, 0, 'choosing scans nothing');
  assert.equal((await call('worklist.list', {})).studies.length, 0);
});

let first: ValidationStateData;

test('start runs the evaluation with progress events; its figures are those of the metrics.json it wrote', async () => {
  const started = await call('validation.start', { images: [phantoms], labels });
  assert.equal(started.state, 'running');
  const again = await refused('validation.start', { images: [phantoms], labels });
  assert.equal(again.code, 'VALIDATION_RUNNING');
  first = await ended();
  assert.equal(first.state, 'completed', JSON.stringify(first.error));
  assert.equal(first.error, null);
  const seen = validationEvents().map((e) => e.state);
  assert.equal(seen[0], 'running');
  assert.equal(seen.at(-1), 'completed');
  const last = validationEvents().at(-1) as unknown as ValidationStateData;
  // Every file under the folder is gone through (the phantoms' masks too: unlabelled, left out).
  assert.ok(last.progress.total !== null && last.progress.total >= COUNT);
  assert.equal(last.progress.done, last.progress.total, 'the last event counts every file done');
  assert.equal(last.reportPath, first.reportPath);

  // The folder: <data dir>/validations/<date-time>/ with the three files.
  const folder = dirname(first.reportPath!);
  assert.equal(dirname(folder), join(appData, VALIDATIONS_FOLDER));
  assert.match(folder.slice(dirname(folder).length + 1), /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z$/);
  for (const name of ['metrics.json', 'predictions.csv', 'report.html'])
    assert.ok(existsSync(join(folder, name)), name);
  const written = JSON.parse(readFileSync(join(folder, 'metrics.json'), 'utf8')) as unknown;
  // The answer, as JSON writes it (the ROC's first threshold, +Infinity, becomes null), is the file.
  assert.deepEqual(JSON.parse(JSON.stringify(first.evaluation)), written);
  const evaluation = first.evaluation!;
  assert.equal(evaluation.data.images, COUNT);
  assert.equal(evaluation.data.reused, 0);
  assert.equal(evaluation.pack.demo, true);
  assert.ok(evaluation.findings.length > 0);
  assert.ok(evaluation.findings.some((f) => f.auc.value !== null));
  assert.equal(evaluation.findings[0].roc[0].threshold, Infinity, 'in memory the first threshold is +Infinity');
  assert.match(readFileSync(first.reportPath!, 'utf8'), /NOT FOR CLINICAL USE/);
  // Open report: the main process is asked to open this report, and no other path.
  assert.deepEqual(await call('validation.openReport', {}), { opened: true, reportPath: first.reportPath });
  assert.deepEqual(opened, [first.reportPath]);

  // The validations' own database; the worklist's holds none of these images.
  assert.ok(existsSync(join(appData, VALIDATIONS_FOLDER, VALIDATIONS_DATABASE)));
  assert.equal((await call('worklist.list', {})).studies.length, 0);
  assert.equal(events.filter((e) => e.event === 'worklist.changed').length, 0);
});

test('a second validation of the same images reuses every result and writes a folder of its own', async () => {
  await call('validation.start', { images: [phantoms], labels });
  const second = await ended();
  assert.equal(second.state, 'completed', JSON.stringify(second.error));
  // Every image the first analysed (the labelled phantoms and their unlabelled masks).
  assert.ok(first.progress.analysed >= COUNT);
  assert.equal(second.evaluation!.data.reused, first.progress.analysed);
  assert.notEqual(dirname(second.reportPath!), dirname(first.reportPath!));
  // The same images and labels, the same figures.
  assert.deepEqual(
    second.evaluation!.findings.map((f) => [f.term, f.auc.value, f.sensitivity.value]),
    first.evaluation!.findings.map((f) => [f.term, f.auc.value, f.sensitivity.value]),
  );
});

test('a labels column that is not a PadChest term ends the run as UNKNOWN_TERM, a message without a stack', async () => {
  const bad = join(scratch.path, 'bad-labels.csv');
  const lines = readFileSync(labels, 'utf8').split('\n');
  lines[0] = lines[0].replace('cardiomegaly', 'cardiomegally');
  writeFileSync(bad, lines.map((line) => line.replace(/^phantom/, 'labelled/phantom')).join('\n'));
  answer = () => [bad];
  assert.deepEqual(await call('validation.choose', { kind: 'labels' }), { path: bad });
  await call('validation.start', { images: [phantoms], labels: bad });
  const failed = await ended();
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'UNKNOWN_TERM');
  assert.match(failed.error!.message, /cardiomegally/);
  assert.doesNotMatch(failed.error!.message, /\n\s+at /);
  assert.equal(failed.evaluation, null);
  assert.equal(failed.reportPath, null);
  assert.equal(validationEvents().at(-1)!.state, 'failed');
});

test('Cancel stops a validation under way: it ends interrupted, with no figures and no folder', async () => {
  // Images never analysed, so that the run is still scanning when the cancel lands.
  const fresh = join(scratch.path, 'fresh');
  await writePhantomSet({ out: fresh, count: 40, seed: 61022, jobs: 1 });
  const freshLabels = join(fresh, 'labels.csv');
  answer = (kind) => [kind === 'folder' ? fresh : freshLabels];
  await call('validation.choose', { kind: 'images' });
  await call('validation.choose', { kind: 'labels' });
  // The folders of figures (the database's own files come and go beside them).
  const figureFolders = () =>
    readdirSync(join(appData, VALIDATIONS_FOLDER), { withFileTypes: true }).filter(
      (entry) => entry.isDirectory() && /^\d{4}-/.test(entry.name),
    ).length;
  const folders = figureFolders();
  assert.equal((await call('validation.start', { images: [fresh], labels: freshLabels })).state, 'running');
  const cancelled = await call('validation.cancel', {});
  assert.equal(cancelled.cancelled, true);
  const end = await ended();
  assert.equal(end.state, 'interrupted');
  assert.equal(end.evaluation, null);
  assert.equal(end.reportPath, null);
  assert.equal(figureFolders(), folders, 'no folder of figures written');
  assert.deepEqual(await call('validation.cancel', {}), { cancelled: false, validation: end });
});

test('nothing logged names a patient, a labels cell or a path', () => {
  const logged = logLines.join('\n');
  assert.match(logged, /validation-started/);
  assert.match(logged, /validation-failed/);
  for (const secret of ['PHANTOM', 'cardiomegally', phantoms]) assert.ok(!logged.includes(secret), secret);
});
