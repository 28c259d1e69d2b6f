/**
 * The engine process for real: entry.ts forked as its own Node process (Electron forks the same
 * file as a utility process), the real backend on the real pack, store and phantom DICOMs, and the
 * main side's EngineLink relaying to it. Requests pair with replies across the process boundary
 * (pixels as ArrayBuffers), push events come through, the open dialog round-trips through the main
 * side, the store lookup answers which paths the store holds, a failed start answers every
 * request with its code, a killed process fails its pending requests with ENGINE_STOPPED and a
 * new one takes the next, and closing releases the database.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API, API_EVENTS } from '../../../main/app/api/contract.js';
import type { ApiEventPayload, Envelope } from '../../../main/app/api/contract.js';
import { EngineLink } from '../../../main/app/shell/engine-link.js';
import type { EngineChild } from '../../../main/app/shell/engine-link.js';
import type { EngineSettings } from '../../../main/app/engine-process/messages.js';
import { scratchDir } from '../../support/tools.js';
import { appPack, PHANTOMS, PHANTOM_FILES } from '../fixtures.js';
import type { ChooserKind } from '../../../main/common/index.js';

const ENTRY = fileURLToPath(new URL('../../../main/app/engine-process/entry.ts', import.meta.url));
const scratch = scratchDir('app-engine-process');
after(() => scratch.remove());

const reading = join(scratch.path, 'reading');
mkdirSync(reading);
const phantoms = PHANTOM_FILES.slice(0, 2).map((name) => {
  copyFileSync(join(PHANTOMS, name), join(reading, name));
  return join(reading, name);
});

interface Harness {
  link: EngineLink;
  children: ChildProcess[];
  events: Array<{ event: string; payload: unknown }>;
  chosen: ChooserKind[];
  exits: Array<number | null>;
}

function harness(settings: EngineSettings, choose: string[] = []): Harness {
  const children: ChildProcess[] = [];
  const events: Harness['events'] = [];
  const chosen: ChooserKind[] = [];
  const exits: Array<number | null> = [];
  const spawn = (): EngineChild => {
    // The structured-clone serialisation Electron's utility process uses too (ArrayBuffers intact).
    const child = fork(ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, TRIAGE_LOG: 'error' },
    });
    children.push(child);
    child.on('error', () => undefined); // a send racing the process's death; its exit is what counts
    return {
      post: (message) => void child.send(message),
      onMessage: (listener) => void child.on('message', listener),
      onExit: (listener) => void child.on('exit', (code) => listener(code)),
      kill: () => void child.kill('SIGKILL'),
    };
  };
  const link = new EngineLink({
    spawn,
    settings,
    onEvent: (event, payload) => events.push({ event, payload }),
    chooseFiles: async (kind) => {
      chosen.push(kind);
      return choose;
    },
    onExit: (code) => exits.push(code),
  });
  return { link, children, events, chosen, exits };
}

function value<T = unknown>(reply: Envelope): T {
  assert.ok(reply.ok, reply.ok ? '' : `${reply.error.code}: ${reply.error.message}`);
  return (reply as { ok: true; value: T }).value;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const settings = (database: string, packDir = appPack()): EngineSettings => ({
  resources: null,
  packDir,
  database,
  provider: 'cpu',
});

describe('the engine process relays the real API', () => {
  const h = harness(settings(join(scratch.path, 'results.sqlite')), [reading]);
  after(() => h.link.close());

  test('status comes back from the other process, valid per the contract', async () => {
    const status = value(await h.link.request('status.get', {}));
    assert.ok(API['status.get'].response.safeParse(status).success);
    assert.equal((status as { provider: string }).provider, 'cpu');
    assert.equal(h.children.length, 1);
    assert.notEqual(h.children[0].pid, process.pid);
  });

  test('the engine side validates again: a request that skipped the main side is refused', async () => {
    const reply = await h.link.request('image.render', { file: 'relative.dcm' });
    assert.equal(!reply.ok && reply.error.code, 'INVALID_REQUEST');
    const unknown = await h.link.request('engine.eval', {});
    assert.equal(!unknown.ok && unknown.error.code, 'INVALID_REQUEST');
  });

  test('the open dialog is shown by the main side; the scan pushes progress; pixels cross as ArrayBuffers', async () => {
    const opened = value<{ paths: string[] }>(await h.link.request('dialog.open', { kind: 'folder' }));
    assert.deepEqual(h.chosen, ['folder']);
    assert.deepEqual(opened.paths, [reading]);
    const deadline = Date.now() + 60_000;
    const end = await new Promise<ApiEventPayload<'scan.progress'>>((resolve, reject) => {
      const poll = setInterval(() => {
        if (Date.now() > deadline) {
          clearInterval(poll);
          reject(new Error('the scan did not end within a minute'));
        }
        const last = [...h.events].reverse().find((e) => e.event === 'scan.progress')?.payload as
          ApiEventPayload<'scan.progress'> | undefined;
        if (last && !last.running && last.last) {
          clearInterval(poll);
          resolve(last);
        }
      }, 25);
    });
    assert.equal(end.last?.outcome, 'completed');
    for (const { event, payload } of h.events) {
      assert.ok(event in API_EVENTS, event);
      assert.ok(API_EVENTS[event as keyof typeof API_EVENTS].safeParse(payload).success, event);
    }
    const worklist = value<{ studies: Array<{ images: Array<{ file: string }> }> }>(
      await h.link.request('worklist.list', {}),
    );
    assert.deepEqual(worklist.studies.flatMap((s) => s.images.map((i) => i.file)).sort(), [...phantoms].sort());
    const image = value<{ rows: number; columns: number; pixels: ArrayBuffer; pixelType: string }>(
      await h.link.request('image.render', { file: phantoms[0] }),
    );
    assert.ok(image.pixels instanceof ArrayBuffer);
    assert.equal(image.pixels.byteLength, image.rows * image.columns * (image.pixelType === 'int32' ? 4 : 2));
  });

  test('the store lookup answers which paths the results store holds, and refuses a malformed question', async () => {
    const absent = join(scratch.path, 'never-scanned.dcm');
    assert.deepEqual(value(await h.link.stored([phantoms[1], absent, phantoms[0]])), [phantoms[1], phantoms[0]]);
    const tooMany = await h.link.stored(Array.from({ length: 257 }, (_, i) => `/x/${i}`));
    assert.equal(!tooMany.ok && tooMany.error.code, 'INVALID_REQUEST');
    const notStrings = await h.link.stored([42 as unknown as string]);
    assert.equal(!notStrings.ok && notStrings.error.code, 'INVALID_REQUEST');
  });

  test('a killed engine process fails its pending request with ENGINE_STOPPED; the next request starts a new one', async () => {
    const first = h.children[0];
    // Stopped, the process cannot answer: the request is surely pending when it dies.
    first.kill('SIGSTOP');
    const pending = h.link.request('worklist.list', {});
    first.kill('SIGKILL');
    const reply = await pending;
    assert.equal(reply.ok, false);
    assert.equal(!reply.ok && reply.error.code, 'ENGINE_STOPPED');
    assert.ok(!reply.ok && !reply.error.message.includes('\n    at '));
    await exited(first);
    const after = await h.link.request('worklist.list', {});
    assert.equal(h.children.length, 2);
    const studies = value<{ studies: unknown[] }>(after).studies;
    assert.equal(studies.length, 2, 'the new process reads what the killed one stored');
    assert.ok(h.exits.length >= 1);
  });

  test('closing asks the process to release the store and exit on its own', async () => {
    const child = h.children[h.children.length - 1];
    await h.link.close();
    assert.equal(await exited(child), 0);
    const late = await h.link.request('status.get', {});
    assert.equal(!late.ok && late.error.code, 'ENGINE_STOPPED');
  });
});

test('an engine that cannot start answers every request with the reason, coded', async () => {
  const h = harness(settings(join(scratch.path, 'other.sqlite'), join(scratch.path, 'no-pack-here')));
  try {
    const [a, b] = await Promise.all([h.link.request('status.get', {}), h.link.request('worklist.list', {})]);
    for (const reply of [a, b]) {
      assert.equal(reply.ok, false);
      assert.equal(!reply.ok && reply.error.code, 'PACK_NOT_FOUND');
    }
  } finally {
    await h.link.close();
  }
});
