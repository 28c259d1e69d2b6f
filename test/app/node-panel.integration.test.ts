/**
 * The DICOM node through the app's API, on the real engine, pack and store, with dcmtk as the
 * modality (storescu) and as the PACS (storescp): settings are validated on both sides and kept
 * in their file; the node starts on port 0 and reports the real one; a pushed phantom is counted,
 * triaged into the window's worklist (with the worklist.changed event) and its results delivered
 * to the peer that is up while the one that is down stays pending with its reason; a duplicate
 * and a stranger's association are counted as such; Test connection answers for both peers; stop
 * closes the port. Nothing the node logs carries the phantom's patient name or ID.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API, AeTitle, isPeerText } from '../../main/app/api/contract.js';
import type { ApiChannel, ApiEvent, ApiResponse, NodeSettingsData } from '../../main/app/api/contract.js';
import { openBackend } from '../../main/app/api/backend.js';
import type { Backend } from '../../main/app/api/backend.js';
import { NODE_SETTINGS_FILE, readNodeSettings } from '../../main/app/api/node-control.js';
import { isValidAeTitle, parsePeer } from '../../main/dimse/index.js';
import { setLogSink } from '../../main/log/index.js';
import { requireProgram } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';
import { appPack, PHANTOMS } from './fixtures.js';

const scratch = scratchDir('app-node');
const PHANTOM = join(PHANTOMS, 'phantom-00000.dcm');
const logLines: string[] = [];
const events: Array<{ event: ApiEvent; payload: unknown }> = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** storescu as the modality, asynchronously: the node answers it from this very process. */
function storescu(port: number, file: string, calling = 'MOD'): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      requireProgram('storescu'),
      ['-aet', calling, '-aec', 'TRIAGE', '127.0.0.1', String(port), file],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

function opener(database: string) {
  return openBackend({
    packDir: appPack(),
    databasePath: database,
    provider: 'cpu',
    threads: 1,
    emit: (event, payload) => events.push({ event, payload }),
    chooseFiles: async () => [],
  });
}

async function call<C extends ApiChannel>(backend: Backend, channel: C, request: unknown): Promise<ApiResponse<C>> {
  const envelope = await backend.invoke(channel, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  const checked = API[channel].response.safeParse(envelope.value);
  assert.ok(checked.success, `${channel} answer does not match the contract`);
  return envelope.value as ApiResponse<C>;
}

async function refused(backend: Backend, channel: string, request: unknown) {
  const envelope = await backend.invoke(channel, request);
  assert.equal(envelope.ok, false, `${channel} ${JSON.stringify(request)} should be refused`);
  return (envelope as { ok: false; error: { code: string; message: string } }).error;
}

let restoreLog: ((line: string) => void) | null = null;
before(() => {
  process.env.TRIAGE_LOG = 'info';
  restoreLog = setLogSink((line) => logLines.push(line));
});
after(() => {
  if (restoreLog) setLogSink(restoreLog);
  if (!process.env.KEEP_SCRATCH) scratch.remove();
});

test("the contract's AE title and peer checks agree with main/dimse's", () => {
  for (const text of ['TRIAGE', 'A', 'A'.repeat(16), '', '   ', 'A'.repeat(17), 'BACK\\SLASH', 'TAB\tX', 'ÄE'])
    assert.equal(AeTitle.safeParse(text).success, isValidAeTitle(text), JSON.stringify(text));
  for (const text of ['PACS@10.0.0.5:104', 'O@[::1]:4242', 'PACS@h:0', 'PACS@h:65536', 'PACS@host', '@h:1', 'X@h:1 '])
    assert.equal(
      isPeerText(text),
      (() => {
        try {
          parsePeer(text);
          return true;
        } catch {
          return false;
        }
      })(),
      text,
    );
});

describe('a DICOM node run from the window', () => {
  let backend: Backend;
  let pacs: ChildProcess;
  let pacsPort: number;
  let downPort: number;
  const received = join(scratch.path, 'pacs');
  const database = join(scratch.path, 'node', 'results.sqlite');
  let settings: NodeSettingsData;

  before(async () => {
    mkdirSync(received, { recursive: true });
    mkdirSync(join(scratch.path, 'node'), { recursive: true });
    pacsPort = await freePort();
    downPort = await freePort();
    pacs = spawn(requireProgram('storescp'), ['-aet', 'PACS', '-od', received, String(pacsPort)], { stdio: 'ignore' });
    backend = await opener(database);
    settings = {
      aeTitle: 'TRIAGE',
      port: 0,
      host: '127.0.0.1',
      allowedCallingAeTitles: ['MOD'],
      stableSeconds: 1,
      destinations: [`PACS@127.0.0.1:${pacsPort}`, `DOWN@127.0.0.1:${downPort}`],
      startWithApp: false,
    };
  });

  after(async () => {
    await backend?.close();
    pacs?.kill();
  });

  test('it is off at first, with the default settings on loopback', async () => {
    const state = await call(backend, 'node.get', {});
    assert.equal(state.running, false);
    assert.equal(state.settings.host, '127.0.0.1');
    assert.equal(state.settings.startWithApp, false);
    assert.equal(state.settingsError, null);
  });

  test('bad settings are refused with coded errors naming the field, and nothing is saved', async () => {
    for (const [bad, field] of [
      [{ ...settings, aeTitle: 'BACK\\SLASH' }, 'aeTitle'],
      [{ ...settings, aeTitle: 'A'.repeat(17) }, 'aeTitle'],
      [{ ...settings, port: 70_000 }, 'port'],
      [{ ...settings, port: -1 }, 'port'],
      [{ ...settings, destinations: ['PACS@host'] }, 'destinations'],
      [{ ...settings, destinations: ['PACS@host:0'] }, 'destinations'],
      [{ ...settings, destinations: ['ftp://pacs/dicom-web'] }, 'destinations'],
      [{ ...settings, allowedCallingAeTitles: [''] }, 'allowedCallingAeTitles'],
      [{ ...settings, stableSeconds: 0 }, 'stableSeconds'],
      [{ ...settings, host: 'http://x' }, 'host'],
      [{ ...settings, extra: 1 }, 'extra'],
    ] as const) {
      const error = await refused(backend, 'node.configure', { settings: bad });
      assert.equal(error.code, 'INVALID_REQUEST');
      assert.match(error.message, new RegExp(field), JSON.stringify(bad));
    }
    assert.throws(() => readFileSync(join(scratch.path, 'node', NODE_SETTINGS_FILE)), 'no settings file yet');
  });

  test('saved settings are in the file; start listens on a free port and reports it', async () => {
    const saved = await call(backend, 'node.configure', { settings });
    assert.deepEqual(saved.settings, settings);
    assert.deepEqual(await readNodeSettings(join(scratch.path, 'node', NODE_SETTINGS_FILE)), settings);
    const state = await call(backend, 'node.start', {});
    assert.equal(state.running, true);
    assert.equal(state.listening?.aeTitle, 'TRIAGE');
    assert.equal(state.listening?.host, '127.0.0.1');
    assert.ok(state.listening && state.listening.port > 0, 'the real port, not 0');
    assert.deepEqual(
      state.outbox.map((row) => [row.destination, row.kind, row.configured, row.sent, row.pending, row.failed]),
      [
        [`dicom:PACS@127.0.0.1:${pacsPort}`, 'dicom', true, 0, 0, 0],
        [`dicom:DOWN@127.0.0.1:${downPort}`, 'dicom', true, 0, 0, 0],
      ],
    );
    const error = await refused(backend, 'node.configure', { settings: { ...settings, stableSeconds: 5 } });
    assert.equal(error.code, 'NODE_RUNNING');
  });

  test('a pushed phantom is received, triaged into the worklist and sent to the peer that is up', async () => {
    const port = (await call(backend, 'node.get', {})).listening!.port;
    const before = (await call(backend, 'worklist.list', {})).studies.length;
    const changedBefore = events.filter((e) => e.event === 'worklist.changed').length;
    const push = await storescu(port, PHANTOM);
    assert.equal(push.status, 0, push.stderr);

    const triaged = await until('the study to be triaged', async () => {
      const state = await call(backend, 'node.get', {});
      return state.triaged.images >= 1 && state;
    });
    assert.deepEqual(triaged.received, { instances: 1, duplicates: 0, ownResults: 0, refused: 0 });
    assert.equal(triaged.triaged.studies, 1);
    assert.equal(triaged.lastAssociation?.calling, 'MOD');
    assert.equal(triaged.lastAssociation?.accepted, true);
    assert.match(triaged.lastAssociation?.remote ?? '', /127\.0\.0\.1/);

    const worklist = await call(backend, 'worklist.list', {});
    assert.equal(worklist.studies.length, before + 1, 'the received study is on the worklist');
    const study = worklist.studies.find((s) => s.patient?.id === 'PHANTOM-1');
    assert.ok(study, 'the phantom, by its patient ID');
    await until(
      'worklist.changed',
      async () => events.filter((e) => e.event === 'worklist.changed').length > changedBefore,
    );
    assert.ok(
      events.some((e) => e.event === 'node.changed'),
      'the panel is told',
    );

    // The results (an SR and a Secondary Capture per image) reach storescp; the peer that is
    // down keeps them pending with the reason.
    const delivered = await until('the outbox to deliver and to fail', async () => {
      const state = await call(backend, 'node.get', {});
      const [up, down] = state.outbox;
      return up.sent >= 2 && up.pending === 0 && down.lastError !== null && state;
    });
    const [up, down] = delivered.outbox;
    assert.equal(up.sent, readdirSync(received).length, 'storescp holds what the outbox calls sent');
    assert.equal(down.sent, 0);
    assert.equal(down.pending + down.failed, up.sent);
    assert.ok(down.lastError && down.lastError.length > 0);
    assert.ok(delivered.recent.some((item) => item.state === 'sent' && item.destination === up.destination));
    assert.ok(delivered.recent.some((item) => item.state !== 'sent' && item.lastError !== null));
    assert.ok(
      delivered.recent.every((item) => !JSON.stringify(item).includes('PHANTOM')),
      'no patient data in the outbox list',
    );
  });

  test('a duplicate and a calling AE off the allow-list are counted as such', async () => {
    const port = (await call(backend, 'node.get', {})).listening!.port;
    assert.equal((await storescu(port, PHANTOM)).status, 0);
    const stranger = await storescu(port, PHANTOM, 'STRANGER');
    assert.notEqual(stranger.status, 0, 'the association is refused');
    const state = await until('the duplicate', async () => {
      const s = await call(backend, 'node.get', {});
      return s.received.duplicates === 1 && s;
    });
    assert.equal(state.received.instances, 1);
    assert.equal(state.lastAssociation?.calling, 'STRANGER');
    assert.equal(state.lastAssociation?.accepted, false);
    assert.ok(state.lastAssociation?.reason);
  });

  test('Test connection: the peer that is up answers with a round trip; the one that is down gives a reason', async () => {
    const up = await call(backend, 'node.echo', { destination: settings.destinations[0] });
    assert.equal(up.ok, true);
    assert.equal(up.detail, null);
    assert.ok(up.ms >= 0 && up.ms < 10_000);
    const down = await call(backend, 'node.echo', { destination: settings.destinations[1] });
    assert.equal(down.ok, false);
    assert.ok(down.detail && down.detail.length > 0, 'the reason');
    assert.equal((await refused(backend, 'node.echo', { destination: 'OTHER@127.0.0.1:104' })).code, 'INVALID_REQUEST');
    assert.equal((await refused(backend, 'node.echo', { destination: 'nope' })).code, 'INVALID_REQUEST');
  });

  test('retry puts failed items back; stop closes the port', async () => {
    const state = await call(backend, 'node.get', {});
    const retried = await call(backend, 'node.retry', { destination: state.outbox[1].destination });
    assert.equal(retried.retried, state.outbox[1].failed);
    const port = state.listening!.port;
    const stopped = await call(backend, 'node.stop', {});
    assert.equal(stopped.running, false);
    assert.equal(stopped.listening, null);
    assert.notEqual((await storescu(port, PHANTOM)).status, 0, 'nothing listens any more');
    assert.equal((await call(backend, 'node.stop', {})).running, false, 'stopping twice is harmless');
  });

  test('the log has events, never the patient', () => {
    assert.ok(logLines.some((line) => line.includes('node-listening')));
    for (const line of logLines) {
      assert.ok(!line.includes('PHANTOM^1') && !line.includes('PHANTOM-1'), line);
    }
  });
});

describe('the settings file', () => {
  test('a bad file is INVALID_SETTINGS in the panel, not a failure to open; saving again mends it', async () => {
    const folder = join(scratch.path, 'bad');
    mkdirSync(folder, { recursive: true });
    const file = join(folder, NODE_SETTINGS_FILE);
    writeFileSync(file, '{"aeTitle": "TRIAGE", "port": 99999');
    await assert.rejects(readNodeSettings(file), { code: 'INVALID_SETTINGS' });
    writeFileSync(file, JSON.stringify({ aeTitle: 'TRIAGE', port: 99999 }));
    await assert.rejects(readNodeSettings(file), { code: 'INVALID_SETTINGS' });

    const backend = await opener(join(folder, 'results.sqlite'));
    try {
      const state = await call(backend, 'node.get', {});
      assert.equal(state.settingsError?.code, 'INVALID_SETTINGS');
      assert.match(state.settingsError?.message ?? '', /port/);
      assert.equal(state.running, false);
      assert.equal((await refused(backend, 'node.start', {})).code, 'INVALID_SETTINGS');
      const port = await freePort();
      const mended = await call(backend, 'node.configure', {
        settings: {
          aeTitle: 'AUTO',
          port,
          host: '127.0.0.1',
          allowedCallingAeTitles: [],
          stableSeconds: 2,
          destinations: [],
          startWithApp: true,
        },
      });
      assert.equal(mended.settingsError, null);
    } finally {
      await backend.close();
    }
    // "Start with the app": the next opening starts it.
    const again = await opener(join(folder, 'results.sqlite'));
    try {
      const state = await call(again, 'node.get', {});
      assert.equal(state.running, true);
      assert.equal(state.listening?.aeTitle, 'AUTO');
    } finally {
      await again.close();
    }
  });
});
