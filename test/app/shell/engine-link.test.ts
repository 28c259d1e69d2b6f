/**
 * The main side's link to the engine process, on a stand-in child and Node's mock timers (no
 * real time passes): a request the engine does not answer within REQUEST_TIMEOUT_MS is answered
 * ENGINE_TIMEOUT with a message that says what to do, while the others are answered as they come;
 * its late answer is dropped and reported; the open dialog's request has no deadline while the
 * dialog is open, and a fresh one after; a process that exits fails what is pending with
 * ENGINE_STOPPED, never with a timeout afterwards.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import type { Envelope } from '../../../main/app/api/contract.js';
import { EngineLink, REQUEST_TIMEOUT_MS } from '../../../main/app/shell/engine-link.js';
import type { EngineChild } from '../../../main/app/shell/engine-link.js';
import type { ToEngine } from '../../../main/app/engine-process/messages.js';

interface StandIn {
  link: EngineLink;
  posted: ToEngine[];
  /** Sends a message from the "engine process". */
  send(message: unknown): void;
  exit(code: number | null): void;
  late: string[];
  /** The reports the engine asked to open. */
  reports: string[];
  answerDialog(paths: string[]): void;
}

function standIn(): StandIn {
  const posted: ToEngine[] = [];
  let onMessage: (message: unknown) => void = () => undefined;
  let onExit: (code: number | null) => void = () => undefined;
  const late: string[] = [];
  const reports: string[] = [];
  let answerDialog: (paths: string[]) => void = () => undefined;
  const child: EngineChild = {
    post: (message) => void posted.push(message),
    onMessage: (listener) => void (onMessage = listener),
    onExit: (listener) => void (onExit = listener),
    kill: () => undefined,
  };
  const link = new EngineLink({
    spawn: () => child,
    settings: { resources: null, packDir: null, database: null, provider: null },
    onEvent: () => undefined,
    chooseFiles: () => new Promise<string[]>((resolve) => (answerDialog = resolve)),
    openReport: (path) => void reports.push(path),
    onLateReply: (channel) => late.push(channel),
  });
  return {
    link,
    posted,
    send: (message) => onMessage(message),
    exit: (code) => onExit(code),
    late,
    reports,
    answerDialog: (paths) => answerDialog(paths),
  };
}

/** The id the link gave the latest request on `channel`. */
function idOf(posted: ToEngine[], channel: string): number {
  const request = posted.findLast((m) => m.kind === 'request' && m.channel === channel);
  assert.ok(request && request.kind === 'request', `a ${channel} request was posted`);
  return request.id;
}

/** Whether a promise has settled, after the microtasks queued so far have run. */
async function settled<T>(promise: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let state: { done: boolean; value?: T } = { done: false };
  void promise.then((value) => (state = { done: true, value }));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return state;
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

describe('the engine link', () => {
  test('the deadline is a minute: generous for a real render, far below "forever"', () => {
    assert.equal(REQUEST_TIMEOUT_MS, 60_000);
  });

  test('a request the engine leaves unanswered is answered ENGINE_TIMEOUT; the others are not held', async () => {
    const { link, posted, send, late } = standIn();
    const stuck = link.request('image.render', { file: '/data/hostile.dcm' });
    const other = link.request('worklist.list', {});
    send({ kind: 'reply', id: idOf(posted, 'worklist.list'), reply: { ok: true, value: { studies: [] } } });
    assert.deepEqual((await settled(other)).value, { ok: true, value: { studies: [] } }, 'answered as it came');
    mock.timers.tick(REQUEST_TIMEOUT_MS - 1);
    assert.equal((await settled(stuck)).done, false, 'not before the deadline');
    mock.timers.tick(1);
    const reply = (await settled(stuck)).value as Envelope & { ok: false };
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'ENGINE_TIMEOUT');
    assert.match(reply.error.message, /did not answer image\.render within 60 s.*Try again in a moment/);
    // Its answer comes after all: dropped, reported, and nothing else is disturbed.
    send({ kind: 'reply', id: idOf(posted, 'image.render'), reply: { ok: true, value: 'pixels' } });
    assert.deepEqual(late, ['image.render']);
    const next = link.request('status.get', {});
    send({ kind: 'reply', id: idOf(posted, 'status.get'), reply: { ok: true, value: 'status' } });
    assert.deepEqual((await settled(next)).value, { ok: true, value: 'status' });
  });

  test('an answer in time stops the clock: no timeout follows it', async () => {
    const { link, posted, send, late } = standIn();
    const answered = link.request('heatmap.get', {});
    send({ kind: 'reply', id: idOf(posted, 'heatmap.get'), reply: { ok: true, value: 1 } });
    mock.timers.tick(10 * REQUEST_TIMEOUT_MS);
    assert.deepEqual((await settled(answered)).value, { ok: true, value: 1 });
    assert.deepEqual(late, []);
  });

  test('the open dialog waits for the user with no deadline, then gets a fresh one', async () => {
    const { link, posted, send, answerDialog } = standIn();
    const opened = link.request('dialog.open', { kind: 'folder' });
    send({ kind: 'choose', id: 1, choose: 'folder' });
    mock.timers.tick(30 * REQUEST_TIMEOUT_MS); // the user browses for half an hour
    assert.equal((await settled(opened)).done, false, 'no timeout while the dialog is open');
    answerDialog(['/data/reading']);
    await settled(Promise.resolve());
    assert.deepEqual(posted.at(-1), { kind: 'chosen', id: 1, paths: ['/data/reading'] });
    mock.timers.tick(REQUEST_TIMEOUT_MS);
    assert.equal(((await settled(opened)).value as Envelope & { ok: false }).error.code, 'ENGINE_TIMEOUT');
  });

  test("the engine's request to open a report reaches the shell's opener; a malformed one does not", () => {
    const { link, send, reports } = standIn();
    void link.request('validation.openReport', {}); // the process starts with the first request
    send({ kind: 'open-report', path: '/data/validations/2026-12-07T19-00-00.000Z/report.html' });
    send({ kind: 'open-report', path: 42 });
    assert.deepEqual(reports, ['/data/validations/2026-12-07T19-00-00.000Z/report.html']);
  });

  test('an exit fails what is pending with ENGINE_STOPPED, and no timeout comes after', async () => {
    const { link, exit, late } = standIn();
    const pending = link.request('image.render', { file: '/data/a.dcm' });
    exit(null);
    assert.equal(((await settled(pending)).value as Envelope & { ok: false }).error.code, 'ENGINE_STOPPED');
    mock.timers.tick(2 * REQUEST_TIMEOUT_MS);
    assert.deepEqual(late, []);
  });
});
