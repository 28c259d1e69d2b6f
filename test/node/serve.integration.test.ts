/**
 * `triage serve` against real DICOM peers on loopback: dcmtk's echoscu and storescu as the
 * modality (uncompressed, JPEG lossless, JPEG 2000 and RLE, each kept in the syntax it was
 * sent in), the allow-list and the called AE title enforced at association, kill -9 in the middle
 * of a push (every instance storescu saw acknowledged is there after a restart, and triaged),
 * duplicates kept once, the worklist filled through the scan pipeline, and SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { triage } from '../support/cli.js';
import { requireProgram } from '../support/reference-tools.js';
import { dicomValue, scratchDir, tool } from '../support/tools.js';
import { eventTotal, nodeArgs, startNode, stopNode, storescu } from './node-process.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const PHANTOMS = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));
const scratch = scratchDir('serve');
after(() => (process.env.KEEP_SCRATCH ? undefined : scratch.remove()));
let counter = 0;
const fresh = (name: string) => {
  const path = join(scratch.path, `${name}-${++counter}`);
  mkdirSync(path, { recursive: true });
  return path;
};

/** The data set after the File Meta Information group: what was sent, byte for byte, if not transcoded. */
function dataSetBytes(path: string): Buffer {
  const bytes = readFileSync(path);
  assert.equal(bytes.toString('latin1', 128, 132), 'DICM', `${path} is Part 10`);
  // (0002,0000) UL, explicit little endian: its value is the group's length after it.
  assert.equal(bytes.readUInt16LE(132), 0x0002);
  assert.equal(bytes.readUInt16LE(134), 0x0000);
  const groupLength = bytes.readUInt32LE(140);
  return bytes.subarray(144 + groupLength);
}

function worklistPaths(db: string): string[] {
  const result = triage(['worklist', '--db', db, '--json']);
  assert.equal(result.status, 0, result.stderr);
  const worklist = JSON.parse(result.stdout) as { images: { file: string }[] }[];
  return worklist.flatMap((study) => study.images.map((image) => image.file)).sort();
}

describe('triage serve: receiving', () => {
  test('C-ECHO; storescu in four transfer syntaxes, each kept as sent and triaged; duplicates once', async () => {
    const dir = fresh('syntaxes');
    const db = join(dir, 'triage.db');
    const node = await startNode(nodeArgs(db, ['--allow-ae', 'MODALITY,OTHER']));
    try {
      const echo = spawnSync(
        requireProgram('echoscu'),
        ['-aet', 'MODALITY', '-aec', 'TRIAGE', '127.0.0.1', String(node.port)],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(echo.status, 0, echo.stderr);
      const sent: Record<string, string[]> = {
        'explicit-le.dcm': [],
        'jpeg-lossless-sv1.dcm': ['-xs'],
        'j2k-lossless.dcm': ['-xv'],
        'rle.dcm': ['-xr'],
      };
      for (const [name, option] of Object.entries(sent)) {
        const result = storescu(node.port, [join(FIXTURES, name)], { extra: option });
        assert.equal(result.status, 0, `${name}: ${result.stderr}`);
      }
      // The same instance again: acknowledged, kept once.
      assert.equal(storescu(node.port, [join(FIXTURES, 'rle.dcm')], { extra: ['-xr'] }).status, 0);
      await node.waitFor((e) => 'triaged' in e);
      const kept = readdirSync(join(dir, 'triage.received', 'instances')).sort();
      assert.equal(kept.length, 4);
      for (const name of Object.keys(sent)) {
        const source = join(FIXTURES, name);
        const uid = dicomValue(source, '0008,0018');
        const path = join(dir, 'triage.received', 'instances', `${uid}.dcm`);
        assert.ok(existsSync(path), `${name} kept under its SOP Instance UID`);
        assert.equal(
          dicomValue(path, '0002,0010'),
          dicomValue(source, '0002,0010'),
          `${name}: transfer syntax unchanged`,
        );
        assert.ok(dataSetBytes(path).equals(dataSetBytes(source)), `${name}: data set byte for byte as sent`);
      }
      const received = node.events.filter((e) => 'received' in e).at(-1) as {
        received: { instances: number; duplicates: number };
      };
      assert.deepEqual([received.received.instances, received.received.duplicates], [4, 1]);
      const stopping = await stopNode(node);
      assert.equal(stopping, 0, node.stderr());
      assert.deepEqual(
        worklistPaths(db),
        kept.map((name) => join(dir, 'triage.received', 'instances', name)).sort(),
        'every received instance is on the worklist',
      );
    } finally {
      await stopNode(node);
    }
  });

  test('refused at association: a calling AE off the allow-list, a wrong called AE; other SOP classes refused', async () => {
    const dir = fresh('refused');
    const node = await startNode(nodeArgs(join(dir, 'triage.db'), ['--allow-ae', 'MODALITY']));
    try {
      const stranger = storescu(node.port, [join(FIXTURES, 'explicit-le.dcm')], { calling: 'STRANGER' });
      assert.notEqual(stranger.status, 0);
      assert.match(stranger.stderr, /Calling AE Title Not Recognized/);
      const wrongCalled = spawnSync(
        requireProgram('echoscu'),
        ['-aet', 'MODALITY', '-aec', 'NOTME', '127.0.0.1', String(node.port)],
        {
          encoding: 'utf8',
        },
      );
      assert.notEqual(wrongCalled.status, 0);
      assert.match(wrongCalled.stderr, /Called AE Title Not Recognized/);
      // A structured report is not a radiograph: its presentation context is refused.
      const sr = storescu(node.port, [join(FIXTURES, 'sr.dcm')]);
      assert.notEqual(sr.status, 0);
      await node.waitFor(() => node.events.filter((x) => 'association' in x).length >= 3);
      const associations = node.events.filter((e) => 'association' in e) as {
        association: { calling: string; accepted: boolean; reason: string | null };
      }[];
      assert.deepEqual(
        associations.slice(0, 2).map((e) => [e.association.calling, e.association.accepted]),
        [
          ['STRANGER', false],
          ['MODALITY', false],
        ],
      );
      assert.equal(readdirSync(join(dir, 'triage.received', 'instances')).length, 0);
      // A hostile peer announcing a 4 GiB association request: the connection is closed at the
      // header (nothing gathered), and the node goes on serving.
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(node.port, '127.0.0.1', () => {
          const header = Buffer.alloc(6);
          header[0] = 0x01;
          header.writeUInt32BE(0xfffffff0, 2);
          socket.write(Buffer.concat([header, Buffer.alloc(1024)]));
        });
        const timer = setTimeout(() => resolve(false), 10_000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        socket.on('error', () => undefined);
      });
      assert.ok(closed, 'the connection was closed by the node');
      const after = spawnSync(
        requireProgram('echoscu'),
        ['-aet', 'MODALITY', '-aec', 'TRIAGE', '127.0.0.1', String(node.port)],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(after.status, 0, after.stderr);
    } finally {
      await stopNode(node);
    }
  });

  test('DICOM over TLS: a peer with a certificate from the trusted CA is served; plain TCP and anonymous TLS are not', async () => {
    const dir = fresh('tls');
    const openssl = (args: string[]) => tool('openssl', args, { cwd: dir });
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=test-ca',
    ]);
    for (const name of ['server', 'client']) {
      openssl([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      openssl([
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
      ]);
    }
    const at = (name: string) => join(dir, name);
    const node = await startNode(
      nodeArgs(join(dir, 'triage.db'), [
        '--tls-key',
        at('server.key'),
        '--tls-cert',
        at('server.crt'),
        '--tls-ca',
        at('ca.crt'),
      ]),
    );
    const echo = (options: string[]) =>
      spawnSync(
        requireProgram('echoscu'),
        ['-aet', 'MODALITY', '-aec', 'TRIAGE', ...options, '127.0.0.1', String(node.port)],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
    try {
      const trusted = echo(['+tls', at('client.key'), at('client.crt'), '+cf', at('ca.crt')]);
      assert.equal(trusted.status, 0, trusted.stderr);
      assert.notEqual(echo([]).status, 0, 'plain TCP to a TLS node fails');
      assert.notEqual(echo(['+tla', '+cf', at('ca.crt')]).status, 0, 'TLS without a client certificate is refused');
    } finally {
      await stopNode(node);
    }
  });

  test('kill -9 during a push: every acknowledged instance is there after a restart, and triaged', async () => {
    const dir = fresh('kill');
    const db = join(dir, 'triage.db');
    // 40 distinct instances: the sample phantoms under new SOP Instance UIDs (dcmodify).
    const source = join(dir, 'push');
    mkdirSync(source);
    const phantoms = readdirSync(PHANTOMS).filter((name) => name.endsWith('.dcm'));
    for (let i = 0; i < 40; i++) {
      const path = join(source, `push-${String(i).padStart(2, '0')}.dcm`);
      copyFileSync(join(PHANTOMS, phantoms[i % phantoms.length]), path);
      // dcmodify updates the File Meta's copy of the UID with it.
      tool('dcmodify', ['-nb', '-m', `(0008,0018)=2.25.${9000 + i}`, path]);
    }
    const first = await startNode(nodeArgs(db, [], { stableSeconds: 30 }));
    const files = readdirSync(source)
      .sort()
      .map((name) => join(source, name));
    const push = spawn(
      requireProgram('storescu'),
      ['-v', '-aet', 'MODALITY', '-aec', 'TRIAGE', '127.0.0.1', String(first.port), ...files],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let log = '';
    push.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    push.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await first.waitFor((e) => 'received' in e && (e.received as { instances: number }).instances >= 12);
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((resolve) => push.on('exit', resolve));
    // storescu -v: "Sending file: PATH" then "Received Store Response (Success)" for each acknowledged one.
    const acknowledged: string[] = [];
    let current: string | null = null;
    for (const line of log.split('\n')) {
      const sending = /Sending file: (\S+)/.exec(line);
      if (sending) current = sending[1];
      if (/Received Store Response \(Success\)/.test(line) && current) acknowledged.push(current);
    }
    assert.ok(
      acknowledged.length >= 6 && acknowledged.length < 40,
      `${acknowledged.length} acknowledged before the kill`,
    );
    const second = await startNode(nodeArgs(db));
    try {
      const kept = new Set(readdirSync(join(dir, 'triage.received', 'instances')));
      // Studies complete at different times: the restart triages them in one or more batches.
      await eventTotal(second, 'triaged', 'analysed', kept.size);
      for (const file of acknowledged)
        assert.ok(kept.has(`${dicomValue(file, '0008,0018')}.dcm`), `${file} was acknowledged and is kept`);
      assert.equal(readdirSync(join(dir, 'triage.received', 'incoming')).length, 0, 'no partial file left');
      assert.equal(await stopNode(second), 0);
      const onWorklist = new Set(worklistPaths(db));
      for (const name of kept)
        assert.ok(onWorklist.has(join(dir, 'triage.received', 'instances', name)), `${name} triaged after the restart`);
    } finally {
      await stopNode(second);
    }
  });
});
