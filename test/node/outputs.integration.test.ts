/**
 * What `triage serve` returns, against real PACS on loopback: each image's SR and Secondary
 * Capture C-STOREd to dcmtk's storescp and STOW-RS'd to Orthanc (with its DICOMweb plugin), both
 * valid (dciodvfy, dcentvfy against their source, dsrdump), the same objects in the results
 * folder; a destination that is down, then up: the outbox delivers once it is up; Orthanc
 * forwarding the node's own capture back to it: accepted, never triaged (the loop guard); the
 * patient on the worklist from the received headers.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { ResultStore } from '../../main/store/index.js';
import { triage } from '../support/cli.js';
import { requireProgram } from '../support/reference-tools.js';
import { dicomValue, scratchDir, tool } from '../support/tools.js';
import { eventTotal, freePort, nodeArgs, startNode, stopNode, storescu } from './node-process.js';
import type { NodeProcess } from './node-process.js';
import { startOrthanc } from './orthanc.js';

const PHANTOMS = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));
const scratch = scratchDir('serve-outputs');
after(() => (process.env.KEEP_SCRATCH ? undefined : scratch.remove()));
let counter = 0;
const fresh = (name: string) => {
  const path = join(scratch.path, `${name}-${++counter}`);
  mkdirSync(path, { recursive: true });
  return path;
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/** dcmtk's storescp as a PACS: every object it receives written into `dir`. */
async function startStorescp(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(requireProgram('storescp'), ['-aet', 'STORESCP', '-od', dir, '-uf', String(port)], {
    stdio: 'ignore',
  });
  // Listening within a moment: poll with echoscu, bounded.
  for (let attempt = 0; attempt < 50; attempt++) {
    const echo = spawnSync(requireProgram('echoscu'), ['-aec', 'STORESCP', '127.0.0.1', String(port)], {
      stdio: 'ignore',
    });
    if (echo.status === 0) return child;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`storescp did not listen on ${port}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function push(node: NodeProcess, files: string[]): void {
  const result = storescu(node.port, files);
  assert.equal(result.status, 0, result.stderr);
}

/** The sum of the node's `delivered` events for a destination, once it reaches `sent`. */
function delivered(node: NodeProcess, destination: string, sent: number, ms = 90_000) {
  return eventTotal(node, 'delivered', 'sent', sent, { where: (d) => d.destination === destination, ms });
}

const sources = ['phantom-00000.dcm', 'phantom-00001.dcm', 'phantom-00002.dcm'].map((name) => join(PHANTOMS, name));

describe('triage serve: results to the PACS', () => {
  test('SR and SC per image to storescp by C-STORE and to Orthanc by STOW-RS, valid and consistent with their source', async () => {
    const dir = fresh('deliver');
    const pacs = join(dir, 'storescp');
    mkdirSync(pacs);
    const storescpPort = await freePort();
    const storescp = await startStorescp(pacs, storescpPort);
    const orthanc = await startOrthanc(join(dir, 'orthanc'));
    const results = join(dir, 'results');
    const db = join(dir, 'triage.db');
    const node = await startNode(
      nodeArgs(db, [
        '--send-to',
        `STORESCP@127.0.0.1:${storescpPort}`,
        '--stow',
        orthanc.dicomWeb,
        '--results-dir',
        results,
      ]),
    );
    try {
      push(node, sources);
      await delivered(node, `dicom:STORESCP@127.0.0.1:${storescpPort}`, 6);
      await delivered(node, `stow:${orthanc.dicomWeb}`, 6);
      const written = filesUnder(results);
      const received = filesUnder(pacs);
      assert.equal(written.length, 6, 'an SR and an SC per image in the results folder');
      assert.deepEqual(
        received.map((path) => dicomValue(path, '0008,0018')).sort(),
        written.map((path) => dicomValue(path, '0008,0018')).sort(),
        'storescp holds exactly the results folder',
      );
      const instances = await orthanc.get<string[]>('/instances');
      assert.equal(instances.length, 6, 'Orthanc holds the six objects (STOW-RS)');
      const modalities = new Set<string>();
      for (const id of instances) {
        const tags = await orthanc.get<Record<string, string>>(`/instances/${id}/simplified-tags`);
        modalities.add(tags.Modality);
      }
      assert.deepEqual([...modalities].sort(), ['OT', 'SR']);
      // Valid, and consistent with the radiograph they describe.
      const bySop = new Map(sources.map((source) => [dicomValue(source, '0008,0018'), source]));
      for (const path of received) {
        const errors = tool('dciodvfy', [path]).split('\n');
        assert.deepEqual(
          spawnSync(requireProgram('dciodvfy'), [path], { encoding: 'latin1' })
            .stderr.split('\n')
            .filter((line) => line.startsWith('Error')),
          [],
          `${path}: dciodvfy ${errors.join(' ')}`,
        );
        // The first Referenced SOP Instance UID: the SC's source image, the SR's evidence.
        const source = bySop.get(dicomValue(path, '0008,1155'));
        assert.ok(source, `${path} names one of the sources`);
        const consistency = spawnSync(requireProgram('dcentvfy'), [source, path], { encoding: 'latin1' });
        assert.deepEqual(
          `${consistency.stdout}${consistency.stderr}`.split('\n').filter((line) => line.startsWith('Error')),
          [],
        );
        assert.equal(dicomValue(path, '0010,0010'), dicomValue(source, '0010,0010'), "Patient's Name copied");
        assert.equal(dicomValue(path, '0008,0050'), dicomValue(source, '0008,0050'), 'Accession Number copied');
        assert.equal(dicomValue(path, '0008,0070'), 'cxr-triage');
        if (dicomValue(path, '0008,0060') === 'SR') {
          const report = tool('dsrdump', [path]);
          assert.match(report, /Imaging Measurement Report/);
          assert.match(report, /NOT FOR CLINICAL USE/i);
        }
      }
      // The node's own output names no patient (its events carry counts and AE titles).
      for (const source of sources) {
        for (const tag of ['0010,0010', '0010,0020', '0008,0050']) {
          const value = dicomValue(source, tag);
          if (value)
            assert.ok(
              !node.stderr().includes(value) && !node.stdout().includes(value),
              `${tag} not in the node's output`,
            );
        }
      }
      // The worklist names the patients the node received.
      const worklist = JSON.parse(triage(['worklist', '--db', db, '--json']).stdout) as {
        patient: { name: string | null; id: string | null } | null;
      }[];
      const ids = worklist.map((study) => study.patient?.id).sort();
      assert.deepEqual(ids, [...new Set(sources.map((source) => dicomValue(source, '0010,0020')))].sort());
    } finally {
      await stopNode(node);
      await orthanc.stop();
      await stopProcess(storescp);
    }
  });

  test('a destination down, then up: the outbox keeps the objects and delivers them once it is up', async () => {
    const dir = fresh('down-up');
    const port = await freePort();
    const db = join(dir, 'triage.db');
    const destination = `dicom:LATE@127.0.0.1:${port}`;
    const node = await startNode(nodeArgs(db, ['--send-to', `LATE@127.0.0.1:${port}`]));
    let storescp: ChildProcess | undefined;
    try {
      push(node, sources.slice(0, 1));
      const failure = (await node.waitFor(
        (event) => 'delivered' in event && (event.delivered as { failed: number }).failed > 0,
      )) as { delivered: { error: string } };
      assert.match(failure.delivered.error, /cannot reach 127\.0\.0\.1:\d+/);
      const pacs = join(dir, 'storescp');
      mkdirSync(pacs);
      storescp = await startStorescp(pacs, port);
      await delivered(node, destination, 2, 60_000);
      assert.equal(filesUnder(pacs).length, 2);
      assert.equal(await stopNode(node), 0);
      const shown = triage(['outbox', '--db', db]);
      assert.equal(shown.status, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`${destination.replace(/[.]/g, '\\.')}: sent 2, pending 0, failed 0`));
      const store = ResultStore.open(db);
      try {
        const [counts] = store.outbox.counts();
        assert.deepEqual([counts.destination, counts.sent, counts.pending, counts.failed], [destination, 2, 0, 0]);
        assert.ok(
          store.outbox.recent().every((item) => item.attempts >= 2),
          'each object failed once, then went',
        );
      } finally {
        store.close();
      }
    } finally {
      await stopNode(node);
      if (storescp) await stopProcess(storescp);
    }
  });

  test('a queued object whose file was removed ends as failed, with why; the node goes on', async () => {
    const dir = fresh('missing');
    const db = join(dir, 'triage.db');
    const port = await freePort();
    const destination = `dicom:PACS@127.0.0.1:${port}`;
    const store = ResultStore.open(db);
    store.outbox.enqueue(destination, [
      { file: join(dir, 'gone.dcm'), sopInstanceUID: '2.25.77', kind: 'sr', sourcePath: join(dir, 'source.dcm') },
    ]);
    store.close();
    const node = await startNode(nodeArgs(db, ['--send-to', `PACS@127.0.0.1:${port}`]));
    try {
      const event = (await node.waitFor(
        (e) => 'delivered' in e && (e.delivered as { failed: number }).failed === 1,
      )) as { delivered: { error: string } };
      assert.match(event.delivered.error, /missing/);
      const echo = spawnSync(requireProgram('echoscu'), [
        '-aet',
        'MODALITY',
        '-aec',
        'TRIAGE',
        '127.0.0.1',
        String(node.port),
      ]);
      assert.equal(echo.status, 0, 'the node still serves');
      const shown = JSON.parse(triage(['outbox', '--db', db, '--json']).stdout) as {
        destinations: { failed: number; lastError: string }[];
      };
      assert.deepEqual(
        shown.destinations.map((d) => [d.failed, d.lastError]),
        [[1, 'the result file is missing from the results folder']],
      );
    } finally {
      await stopNode(node);
    }
  });

  test('objects lost to a crash after the triage are written at the next start', async () => {
    const dir = fresh('republish');
    const db = join(dir, 'triage.db');
    const results = join(dir, 'results');
    const args = nodeArgs(db, ['--results-dir', results]);
    const first = await startNode(args);
    try {
      push(first, sources);
      await first.waitFor((event) => 'published' in event);
    } finally {
      await stopNode(first);
    }
    const written = filesUnder(results);
    assert.equal(written.length, 6);
    // As if the node had died between recording two images and writing their objects.
    const lost = written.filter((path) => dicomValue(path, '0008,1155') !== dicomValue(sources[0], '0008,0018'));
    assert.equal(lost.length, 4);
    for (const path of lost) rmSync(path);
    const second = await startNode(args);
    try {
      const published = (await second.waitFor((event) => 'published' in event)) as { published: { images: number } };
      assert.equal(published.published.images, 2, 'the two images whose objects were missing, and only those');
      assert.deepEqual(filesUnder(results), written, 'the same objects, under the same names');
      assert.equal(second.events.filter((event) => 'triaged' in event).length, 0, 'nothing triaged again');
    } finally {
      await stopNode(second);
    }
  });

  test("Orthanc forwarding the node's own capture back: Success, never triaged", async () => {
    const dir = fresh('loop');
    const db = join(dir, 'triage.db');
    const port = await freePort();
    const orthanc = await startOrthanc(join(dir, 'orthanc'), { aeTitle: 'TRIAGE', port });
    const node = await startNode(nodeArgs(db, ['--send-to', `ORTHANC@127.0.0.1:${orthanc.dicomPort}`], { port }));
    try {
      push(node, sources.slice(0, 1));
      await delivered(node, `dicom:ORTHANC@127.0.0.1:${orthanc.dicomPort}`, 2);
      const captures = await orthanc.post<string[]>('/tools/find', { Level: 'Instance', Query: { Modality: 'OT' } });
      assert.equal(captures.length, 1);
      // Orthanc sends it back (a PACS that forwards everything it receives).
      await orthanc.post('/modalities/triage/store', captures[0]);
      await node.waitFor((event) => 'received' in event && (event.received as { ownResults: number }).ownResults === 1);
      await sleep(2_000); // longer than --stable-seconds: a triage would have started
      const triaged = node.events.filter((event) => 'triaged' in event) as { triaged: { analysed: number } }[];
      assert.deepEqual(
        triaged.map((event) => event.triaged.analysed),
        [1],
        'only the radiograph was triaged',
      );
      assert.equal(readdirSync(join(dir, 'triage.received', 'instances')).length, 1, 'the capture is not kept');
    } finally {
      await stopNode(node);
      await orthanc.stop();
    }
  });
});
