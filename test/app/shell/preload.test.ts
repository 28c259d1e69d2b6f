/**
 * The preload as Electron loads it: bundled by bundle-preload.ts into one CommonJS file, then run
 * in a fresh V8 context whose `require` knows only `electron` (as in a sandboxed preload, which
 * cannot load local files). Its `electron` is a recording stand-in for contextBridge, ipcRenderer
 * and webUtils, since Electron cannot run here. Checked: exactly `window.triage` is exposed with
 * invoke/on/pathForFile; the channel names are the contract's; unknown channels and events are
 * refused before IPC; envelopes unwrap to values or to errors whose message carries the code;
 * listeners get the payload and never the IPC event; pathForFile grants a dropped file's path to
 * the window (synchronously, on the preload's own channel) before it returns it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import vm from 'node:vm';
import { API, API_EVENTS } from '../../../main/app/api/contract.js';
import type { TriageApi } from '../../../main/app/api/contract.js';
import { parseApiCallError } from '../../../main/common/index.js';
import { bundlePreload } from '../../../main/app/shell/bundle-preload.js';
import { scratchDir } from '../../support/tools.js';

const scratch = scratchDir('app-preload');
after(() => scratch.remove());

const exposed = new Map<string, unknown>();
const invoked: Array<[string, unknown]> = [];
const sentSync: Array<[string, unknown]> = [];
const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
let nextReply: unknown = { ok: true, value: null };
const required: string[] = [];
let source = '';

const electron = {
  contextBridge: { exposeInMainWorld: (name: string, value: unknown) => exposed.set(name, value) },
  ipcRenderer: {
    invoke: async (channel: string, payload: unknown) => {
      invoked.push([channel, payload]);
      return nextReply;
    },
    on: (channel: string, listener: (...args: unknown[]) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: (...args: unknown[]) => void) =>
      listeners.get(channel)?.delete(listener),
    sendSync: (channel: string, payload: unknown) => {
      sentSync.push([channel, payload]);
      return true;
    },
  },
  webUtils: {
    getPathForFile: (file: { path?: string }) => {
      if (!file.path) throw new TypeError('not a File');
      return file.path;
    },
  },
};

let triage: TriageApi;

before(async () => {
  const outfile = join(scratch.path, 'preload.cjs');
  await bundlePreload(outfile);
  source = readFileSync(outfile, 'utf8');
  const module = { exports: {} };
  const sandboxRequire = (name: string) => {
    required.push(name);
    if (name === 'electron') return electron;
    throw new Error(`a sandboxed preload cannot require ${name}`);
  };
  vm.runInNewContext(`(function (require, module, exports) {${source}\n})`, { console }, { filename: 'preload.cjs' })(
    sandboxRequire,
    module,
    module.exports,
  );
  triage = exposed.get('triage') as TriageApi;
});

describe('the bundled preload', () => {
  test('one self-contained CommonJS file that requires electron only, with no zod and no Node built-ins', () => {
    assert.deepEqual(required, ['electron']);
    assert.ok(!/require\((?!"electron"\))/.test(source), 'no other require');
    assert.ok(!source.includes('zod'), 'zod stays on the main side');
    assert.ok(source.length < 10_000, `small: ${source.length} bytes`);
  });

  test('exposes exactly window.triage with invoke, on and pathForFile', () => {
    assert.deepEqual([...exposed.keys()], ['triage']);
    assert.deepEqual(Object.keys(triage).sort(), ['invoke', 'on', 'pathForFile']);
    assert.ok(Object.isFrozen(triage));
    assert.ok(!('ipcRenderer' in triage) && !('send' in triage));
  });

  test('every contract channel reaches its namespaced IPC channel with the request as given', async () => {
    for (const channel of Object.keys(API)) {
      invoked.length = 0;
      nextReply = { ok: true, value: { channel } };
      const request = { probe: channel };
      assert.deepEqual(await triage.invoke(channel as never, request as never), { channel });
      assert.deepEqual(invoked, [[`triage:invoke:${channel}`, request]]);
    }
  });

  test('unknown channels are refused before IPC, with INVALID_REQUEST', async () => {
    for (const channel of ['engine.eval', '__proto__', 'toString', '', 'status.get\u0000']) {
      invoked.length = 0;
      await assert.rejects(
        triage.invoke(channel as never, {} as never),
        (error: Error) => parseApiCallError(error).code === 'INVALID_REQUEST',
      );
      assert.equal(invoked.length, 0, channel);
    }
  });

  test('an error envelope rejects with an Error whose message carries code and message', async () => {
    nextReply = { ok: false, error: { code: 'FORBIDDEN_SENDER', message: 'The request came from a subframe.' } };
    const error = await triage.invoke('status.get', {}).then(
      () => null,
      (e: Error) => e,
    );
    // An Error of the preload's own realm (contextBridge copies its message across).
    assert.equal(Object.prototype.toString.call(error), '[object Error]');
    assert.equal(error!.name, 'ApiCallError');
    assert.deepEqual(parseApiCallError(error), {
      code: 'FORBIDDEN_SENDER',
      message: 'The request came from a subframe.',
    });
    nextReply = 'garbage';
    const malformed = await triage.invoke('status.get', {}).then(
      () => null,
      (e: Error) => e,
    );
    assert.equal(parseApiCallError(malformed).code, 'INTERNAL');
  });

  test('events: the listener gets the payload only; unsubscribing removes it; unknown events are refused', () => {
    assert.deepEqual(Object.keys(API_EVENTS).sort(), [
      'node.changed',
      'scan.progress',
      'validation.changed',
      'worklist.changed',
    ]);
    const received: unknown[][] = [];
    const off = triage.on('worklist.changed', (...args: unknown[]) => received.push(args));
    const registered = [...listeners.get('triage:event:worklist.changed')!];
    assert.equal(registered.length, 1);
    const ipcEvent = { sender: electron.ipcRenderer, senderId: 0 };
    registered[0](ipcEvent, { studies: 3 });
    assert.deepEqual(received, [[{ studies: 3 }]], 'the IPC event (with ipcRenderer) never reaches the page');
    off();
    assert.equal(listeners.get('triage:event:worklist.changed')!.size, 0);
    assert.throws(
      () => triage.on('engine.log' as never, () => undefined),
      (e: Error) => parseApiCallError(e).code === 'INVALID_REQUEST',
    );
    assert.throws(
      () => triage.on('scan.progress', 'alert(1)' as never),
      (e: Error) => parseApiCallError(e).code === 'INVALID_REQUEST',
    );
  });

  test("pathForFile gives a dropped file's path, granted to the window first; anything else gets ''", () => {
    sentSync.length = 0;
    assert.equal(triage.pathForFile({ path: '/data/cxr/a.dcm' } as never), '/data/cxr/a.dcm');
    // Synchronously, on the preload's own channel: granted before the page's next invoke.
    assert.deepEqual(sentSync, [['triage:grant-path', '/data/cxr/a.dcm']]);
    assert.equal(triage.pathForFile({} as never), '');
    assert.equal(triage.pathForFile({ path: '' } as never), '');
    assert.equal(sentSync.length, 1, 'nothing granted for a File without a path');
  });

  test('the page has no way to grant a path but a File: no send, no channel name, no ipcRenderer', () => {
    assert.deepEqual(Object.keys(triage).sort(), ['invoke', 'on', 'pathForFile']);
    // The grant channel is no API channel: invoke refuses it before IPC.
    invoked.length = 0;
    return assert
      .rejects(
        triage.invoke('grant-path' as never, '/etc' as never),
        (e: Error) => parseApiCallError(e).code === 'INVALID_REQUEST',
      )
      .then(() => assert.equal(invoked.length, 0));
  });
});
