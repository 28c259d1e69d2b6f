/**
 * The main side of IPC with the real contract: only our window's main frame on the app origin
 * may call (a null senderFrame, another window, a subframe or a foreign page are refused with
 * FORBIDDEN_SENDER before the payload is looked at); every payload is parsed by the channel's
 * schema (malformed ones get INVALID_REQUEST naming the field, never echoing the payload); the
 * window's own checks (what it may scan) run on the validated request with the sender's id; nothing
 * refused reaches the engine; failures come back as code and message, never a stack. The preload's
 * grant of a dropped path is taken from our window's main frame only, and only an absolute path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { API } from '../../../main/app/api/contract.js';
import { TriageError } from '../../../main/errors/index.js';
import {
  checkSender,
  eventChannel,
  GRANT_PATH_CHANNEL,
  handleGrant,
  handleInvoke,
  invokeChannel,
  replyError,
  validateRequest,
} from '../../../main/app/shell/ipc.js';
import type { Envelope } from '../../../main/app/api/contract.js';
import type { InvokeContext, InvokeEventLike } from '../../../main/app/shell/ipc.js';

const WINDOW_ID = 7;
const mainFrame = { url: 'app://triage/index.html', parent: null };
const ours: InvokeEventLike = { sender: { id: WINDOW_ID }, senderFrame: mainFrame };

function context(run: InvokeContext['run']): InvokeContext & { refused: string[] } {
  const refused: string[] = [];
  return {
    schemas: API,
    windowContentsId: () => WINDOW_ID,
    run,
    onRefused: (channel, error) => refused.push(`${channel}:${error.code}`),
    refused,
  };
}

function engineRecorder() {
  const calls: Array<[string, unknown]> = [];
  const run = async (channel: string, request: unknown): Promise<Envelope> => {
    calls.push([channel, request]);
    return { ok: true, value: { echoed: channel } };
  };
  return { calls, run };
}

describe('sender checks', () => {
  test('our window, main frame, app origin: accepted', () => {
    assert.equal(checkSender(ours, WINDOW_ID), null);
    assert.equal(
      checkSender(
        { sender: { id: WINDOW_ID }, senderFrame: { url: 'app://triage/index.html#/study/2', parent: null } },
        WINDOW_ID,
      ),
      null,
    );
  });

  const foreign: Array<[string, InvokeEventLike, number | null]> = [
    ['a null senderFrame (navigated or destroyed)', { sender: { id: WINDOW_ID }, senderFrame: null }, WINDOW_ID],
    ['another WebContents', { sender: { id: 8 }, senderFrame: mainFrame }, WINDOW_ID],
    ['no window open', ours, null],
    [
      'a subframe',
      { sender: { id: WINDOW_ID }, senderFrame: { url: 'app://triage/frame.html', parent: mainFrame } },
      WINDOW_ID,
    ],
    [
      'a remote page',
      { sender: { id: WINDOW_ID }, senderFrame: { url: 'https://evil.example/', parent: null } },
      WINDOW_ID,
    ],
    [
      'a file:// page',
      { sender: { id: WINDOW_ID }, senderFrame: { url: 'file:///tmp/x.html', parent: null } },
      WINDOW_ID,
    ],
    [
      'another app host',
      { sender: { id: WINDOW_ID }, senderFrame: { url: 'app://evil/index.html', parent: null } },
      WINDOW_ID,
    ],
    ['about:blank', { sender: { id: WINDOW_ID }, senderFrame: { url: 'about:blank', parent: null } }, WINDOW_ID],
  ];
  for (const [name, event, windowId] of foreign) {
    test(`refused: ${name}`, async () => {
      const error = checkSender(event, windowId);
      assert.ok(error instanceof TriageError);
      assert.equal(error.code, 'FORBIDDEN_SENDER');
      const engine = engineRecorder();
      const ctx = context(engine.run);
      ctx.windowContentsId = () => windowId;
      const reply = await handleInvoke(ctx, 'status.get', event, {});
      assert.deepEqual(reply, { ok: false, error: { code: 'FORBIDDEN_SENDER', message: error.message } });
      assert.equal(engine.calls.length, 0, 'nothing reaches the engine');
      assert.deepEqual(ctx.refused, ['status.get:FORBIDDEN_SENDER']);
    });
  }
});

describe('payload validation', () => {
  const malformed: Array<[string, unknown, RegExp]> = [
    ['status.get', { extra: true }, /Unrecognized key/i],
    ['status.get', null, /expected object/i],
    ['study.get', {}, /study/],
    ['study.get', { study: 42 }, /study: .*expected string/i],
    ['study.get', { study: 'x'.repeat(5000) }, /study/],
    ['image.render', { file: 'relative/path.dcm' }, /file: must be an absolute path/],
    ['image.render', { file: '/a\0b.dcm' }, /NUL/],
    ['image.render', { file: '/a.dcm', __proto__: { polluted: true }, extra: 1 }, /Unrecognized key/i],
    ['heatmap.get', { file: '/a.dcm', term: 'nodule', tree: 'organ', model: null }, /tree/],
    ['feedback.set', { file: '/a.dcm', term: 'nodule', tree: 'finding', verdict: 'maybe' }, /verdict/],
    ['scan.start', { paths: [] }, /paths/],
    ['scan.start', { paths: Array(300).fill('/a') }, /paths/],
    ['scan.start', 'rm -rf /', /expected object/i],
    ['dialog.open', { kind: 'anything' }, /kind/],
  ];
  for (const [channel, payload, reason] of malformed) {
    test(`${channel} refuses ${JSON.stringify(payload)?.slice(0, 60)}`, async () => {
      const validated = validateRequest(API, channel, payload);
      assert.equal(validated.ok, false);
      const engine = engineRecorder();
      const ctx = context(engine.run);
      const reply = await handleInvoke(ctx, channel, ours, payload);
      assert.equal(reply.ok, false);
      if (reply.ok) return;
      assert.equal(reply.error.code, 'INVALID_REQUEST');
      assert.match(reply.error.message, reason);
      assert.ok(reply.error.message.startsWith(`Invalid ${channel} request: `));
      assert.ok(!reply.error.message.includes('rm -rf'), 'the payload is not echoed');
      assert.ok(!/\n\s+at /.test(reply.error.message), 'no stack');
      assert.equal(engine.calls.length, 0);
    });
  }

  test('unknown channels are refused, prototype names included', async () => {
    for (const channel of ['shell.openExternal', '__proto__', 'constructor', 'toString', '']) {
      const reply = await handleInvoke(context(engineRecorder().run), channel, ours, {});
      assert.equal(reply.ok, false, channel);
      assert.equal(!reply.ok && reply.error.code, 'INVALID_REQUEST', channel);
    }
  });

  test('a valid request reaches the engine parsed, and its reply comes back', async () => {
    const engine = engineRecorder();
    const reply = await handleInvoke(context(engine.run), 'heatmap.get', ours, {
      file: '/data/a.dcm',
      term: 'nodule',
      tree: 'finding',
      model: null,
    });
    assert.deepEqual(reply, { ok: true, value: { echoed: 'heatmap.get' } });
    assert.deepEqual(engine.calls, [
      ['heatmap.get', { file: '/data/a.dcm', term: 'nodule', tree: 'finding', model: null }],
    ]);
    // Every contract channel has a schema the main side checks: a missing payload never passes.
    for (const channel of Object.keys(API)) assert.equal(validateRequest(API, channel, undefined).ok, false, channel);
  });

  test('whatever the relay throws becomes a coded envelope without a stack', async () => {
    const reply = await handleInvoke(
      context(async () => {
        throw new Error('socket closed');
      }),
      'status.get',
      ours,
      {},
    );
    assert.deepEqual(reply, { ok: false, error: { code: 'INTERNAL', message: 'Unexpected failure: socket closed' } });
    assert.deepEqual(replyError(new TriageError('PACK_NOT_FOUND', 'No model pack.')), {
      ok: false,
      error: { code: 'PACK_NOT_FOUND', message: 'No model pack.' },
    });
  });

  test('IPC channel names are namespaced', () => {
    assert.equal(invokeChannel('status.get'), 'triage:invoke:status.get');
    assert.equal(eventChannel('scan.progress'), 'triage:event:scan.progress');
  });
});

describe("the window's own checks", () => {
  test("a refusal from the window's checks comes back coded, logged, and nothing reaches the engine", async () => {
    const engine = engineRecorder();
    const ctx = context(engine.run);
    const checked: Array<[number, string, unknown]> = [];
    ctx.check = async (windowId, channel, request) => {
      checked.push([windowId, channel, request]);
      return { code: 'PATH_NOT_GRANTED', message: 'not yours' };
    };
    const reply = await handleInvoke(ctx, 'scan.start', ours, { paths: ['/data/a.dcm'] });
    assert.deepEqual(reply, { ok: false, error: { code: 'PATH_NOT_GRANTED', message: 'not yours' } });
    assert.deepEqual(checked, [[WINDOW_ID, 'scan.start', { paths: ['/data/a.dcm'] }]], 'the validated request');
    assert.deepEqual(ctx.refused, ['scan.start:PATH_NOT_GRANTED']);
    assert.equal(engine.calls.length, 0);
  });

  test('the checks see only requests that passed the sender check and the schema', async () => {
    const ctx = context(engineRecorder().run);
    let checks = 0;
    ctx.check = async () => {
      checks++;
      return null;
    };
    await handleInvoke(ctx, 'scan.start', { sender: { id: 8 }, senderFrame: mainFrame }, { paths: ['/a'] });
    await handleInvoke(ctx, 'scan.start', ours, { paths: ['relative'] });
    assert.equal(checks, 0);
    assert.equal((await handleInvoke(ctx, 'scan.start', ours, { paths: ['/a'] })).ok, true);
    assert.equal(checks, 1);
  });
});

describe("the preload's grant of a dropped path", () => {
  test('our window main frame, an absolute path: granted to that window', () => {
    const granted: Array<[number, string]> = [];
    const ctx = context(engineRecorder().run);
    assert.equal(GRANT_PATH_CHANNEL, 'triage:grant-path');
    assert.equal(
      handleGrant(ctx, ours, '/data/dropped.dcm', (id, path) => granted.push([id, path])),
      true,
    );
    assert.deepEqual(granted, [[WINDOW_ID, '/data/dropped.dcm']]);
  });

  test('another window, a subframe, a foreign page, or a path that is not absolute: refused', () => {
    const granted: unknown[] = [];
    const ctx = context(engineRecorder().run);
    const grant = (id: number, path: string) => granted.push([id, path]);
    assert.equal(handleGrant(ctx, { sender: { id: 8 }, senderFrame: mainFrame }, '/a.dcm', grant), false);
    assert.equal(
      handleGrant(
        ctx,
        { sender: { id: WINDOW_ID }, senderFrame: { url: 'app://triage/f.html', parent: mainFrame } },
        '/a.dcm',
        grant,
      ),
      false,
    );
    assert.equal(
      handleGrant(
        ctx,
        { sender: { id: WINDOW_ID }, senderFrame: { url: 'https://evil.example/', parent: null } },
        '/a.dcm',
        grant,
      ),
      false,
    );
    for (const path of ['relative.dcm', '', 42, null, { path: '/a.dcm' }, '/a\0b', `/${'x'.repeat(5000)}`])
      assert.equal(handleGrant(ctx, ours, path, grant), false, JSON.stringify(path)?.slice(0, 40));
    assert.deepEqual(granted, []);
    assert.deepEqual(ctx.refused.slice(0, 3), [
      'grant-path:FORBIDDEN_SENDER',
      'grant-path:FORBIDDEN_SENDER',
      'grant-path:FORBIDDEN_SENDER',
    ]);
    assert.ok(ctx.refused.slice(3).every((entry) => entry === 'grant-path:INVALID_REQUEST'));
  });
});
