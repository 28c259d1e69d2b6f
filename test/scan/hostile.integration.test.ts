/**
 * Folders that fight back, scanned in process with the real cam-pack on the CPU: a FIFO swapped
 * in for a file after the walk saw it, a tree 2,000 folders deep, names whose bytes are not
 * UTF-8, the product's own outputs inside the scanned folder, two images with one base name, and
 * a header that exhausts the identification thread. Each fails alone, with its code, and loses
 * nothing else. DICOMDIR cycles: dicomdir.conformance.test.ts; SIGTERM and --out:
 * cli.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode } from 'fast-png';
import { Engine } from '../../main/engine/index.js';
import { fsPath } from '../../main/paths/index.js';
import { walk, Scanner } from '../../main/scan/index.js';
import type { Candidate, ScanOptions } from '../../main/scan/index.js';
import { ResultStore } from '../../main/store/index.js';
import type { StoredResult } from '../../main/domain/index.js';
import { defaultRules } from '../../main/triage/index.js';
import { scratchDir } from '../support/tools.js';
import { swapForFifo, watchFifo } from './fifo.js';
import { CAM_PACK, copyFixture, writeImage, writeImages } from './fixtures.js';

const scratch = scratchDir('hostile');
after(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => join(scratch.path, `${name}-${++counter}`);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (path: string) => {
  const converted = fsPath(path);
  return typeof converted === 'string' ? Buffer.from(converted, 'utf8') : converted;
};

/** Valid Unicode: no lone surrogate, so UTF-8 (a database's text) holds it exactly. */
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;
let engine: Engine;
before(async () => {
  engine = await Engine.create({ models: CAM_PACK, provider: 'cpu', threads: 1, batchSize: 4 });
});
after(() => engine?.close());

async function run(store: ResultStore, roots: string[], options: Partial<ScanOptions> = {}) {
  const summary = await new Scanner({ roots, engine, store, rules: defaultRules(), ...options }).run();
  return { summary, results: [...store.scanResults(summary.scanId)] };
}
const byFile = (results: StoredResult[]) => new Map(results.map((r) => [r.file, r]));

describe('a FIFO swapped in after the walk saw a regular file', () => {
  test('a DICOMDIR become a FIFO is refused without waiting, and the walk goes on', async () => {
    const root = fresh('fifo-dicomdir');
    copyFixture('explicit-le.dcm', join(root, 'DICOMDIR'));
    writeImage(join(root, 'zz-last.png'), 'normal', 3);
    const walking = walk([root]);
    const first = await walking.next();
    assert.deepEqual([first.value?.kind, first.value?.path], ['file', join(root, 'DICOMDIR')]);
    // The walk saw a regular file; before it reads the DICOMDIR's references, it is a FIFO.
    swapForFifo(join(root, 'DICOMDIR'));
    const watch = watchFifo(join(root, 'DICOMDIR'));
    const rest: Candidate[] = [];
    try {
      for await (const candidate of walking) rest.push(candidate);
    } finally {
      assert.equal(watch.stop(), false, 'no thread waited for a writer on the FIFO');
    }
    assert.equal(rest.length, 2, JSON.stringify(rest));
    assert.equal(rest[0].kind, 'error');
    assert.equal(rest[0].kind === 'error' && rest[0].error.code, 'INVALID_DICOMDIR');
    assert.match(rest[0].kind === 'error' ? rest[0].error.message : '', /not a regular file/);
    assert.deepEqual([rest[1].kind, rest[1].path], ['file', join(root, 'zz-last.png')]);
  });
});

describe('a tree 2,000 folders deep', () => {
  const DEPTH = 2000;
  /** root/d/d/.../d, DEPTH folders below the root. */
  const folderAt = (root: string, depth: number) => join(root, ...Array<string>(depth).fill('d'));
  // Node's recursive rmSync recurses too, and overflows its stack on such a tree; rm does not.
  const trees: string[] = [];
  after(() => {
    for (const tree of trees) execFileSync('rm', ['-rf', tree]);
  });

  test('the walk finds the file in every one of its folders, in order', async () => {
    const root = fresh('deep-walk');
    trees.push(root);
    mkdirSync(folderAt(root, DEPTH), { recursive: true });
    for (let depth = 1; depth <= DEPTH; depth++) writeFileSync(join(folderAt(root, depth), 'f'), `${depth}`);
    const found: string[] = [];
    for await (const candidate of walk([root])) {
      assert.equal(candidate.kind, 'file', candidate.kind === 'error' ? candidate.error.message : '');
      found.push(candidate.path);
    }
    // Name order: "d" before "f", so the deepest file comes first.
    assert.equal(found.length, DEPTH);
    assert.deepEqual(
      found,
      Array.from({ length: DEPTH }, (_, i) => join(folderAt(root, DEPTH - i), 'f')),
    );
  });

  test('a scan analyses the images at every depth; nothing is INTERNAL', async () => {
    const dir = fresh('deep-scan');
    trees.push(dir);
    const root = join(dir, 'in');
    const depths = [1, 700, 1400, DEPTH];
    mkdirSync(folderAt(root, DEPTH), { recursive: true });
    for (const [i, depth] of depths.entries())
      writeImage(join(folderAt(root, depth), 'x.png'), i % 2 === 0 ? 'nodule' : 'normal', i);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [root]);
    assert.equal(summary.outcome, 'completed');
    assert.deepEqual([summary.files, summary.analysed, summary.ok, summary.errors], [4, 4, 4, 0]);
    const stored = byFile(results);
    for (const [i, depth] of depths.entries()) {
      const result = stored.get(join(folderAt(root, depth), 'x.png'));
      assert.equal(result?.priority, i % 2 === 0 ? 'urgent' : 'normal', `depth ${depth}`);
    }
    store.close();
  });
});

describe('names whose bytes are not UTF-8', () => {
  test('found, identified, analysed and stored under a name that maps back to the same bytes', async () => {
    const dir = fresh('bytes');
    const root = join(dir, 'in');
    const source = join(dir, 'source.png');
    writeImage(source, 'nodule', 4);
    const image = readFileSync(source);
    copyFixture('explicit-le.dcm', join(dir, 'source.dcm'));
    const dicom = readFileSync(join(dir, 'source.dcm'));
    mkdirSync(root, { recursive: true });
    const named = (...parts: Buffer[]) => Buffer.concat([Buffer.from(`${root}/`), ...parts]);
    // 0xFF 0xFE (never valid UTF-8), in a folder named with Latin-1 "é" (0xE9, invalid too).
    mkdirSync(named(Buffer.of(0xe9)));
    const ff = named(Buffer.of(0xe9), Buffer.from('/'), Buffer.of(0xff, 0xfe), Buffer.from('.png'));
    writeFileSync(ff, image);
    // A real U+EF90 character, valid UTF-8 that must not be read as the byte 0x90.
    const privateUse = named(Buffer.from('\uEF90.dcm', 'utf8'));
    writeFileSync(privateUse, dicom);
    // And a file whose name is the byte 0x90 itself, which must stay another file.
    const byte90 = named(Buffer.of(0x90), Buffer.from('.png'));
    writeImage(join(dir, 'other.png'), 'normal', 9);
    writeFileSync(byte90, readFileSync(join(dir, 'other.png')));

    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [root]);
    assert.equal(summary.outcome, 'completed');
    assert.deepEqual([summary.analysed, summary.ok, summary.errors, summary.duplicates], [3, 3, 0, 0]);
    const back = new Map(results.map((r) => [bytesOf(r.file).toString('hex'), r]));
    assert.equal(back.size, 3, 'three names, three results');
    for (const [raw, content, priority] of [
      [ff, image, 'urgent'],
      [privateUse, dicom, 'normal'],
      [byte90, readFileSync(join(dir, 'other.png')), 'normal'],
    ] as const) {
      const result = back.get(raw.toString('hex'));
      assert.ok(result, `a result whose name maps back to ${raw.toString('hex')}`);
      assert.ok(wellFormed(result.file), 'stored as valid Unicode');
      assert.equal(result.status, 'ok');
      assert.equal(result.priority, priority);
      assert.equal(result.sha256, sha256(content), 'the hash of the file those bytes name');
    }
    // A second pass finds the same names unchanged: the stored strings are the walk's strings.
    const again = await run(store, [root]);
    assert.deepEqual([again.summary.analysed, again.summary.unchanged], [0, 3]);
    store.close();
  });
});

describe("the product's own outputs inside the scanned folder", () => {
  test('the heatmaps folder (and a link to it) and the database with its side files are never scanned', async () => {
    const root = fresh('outputs');
    const images = writeImages(join(root, 'images'), 4);
    const maps = join(root, 'maps');
    mkdirSync(maps);
    symlinkSync(maps, join(root, 'link-to-maps'));
    const database = join(root, 'results.sqlite');
    const store = ResultStore.open(database);
    const passes = [];
    for (let pass = 0; pass < 3; pass++) {
      const { summary, results } = await run(store, [root], { heatmapsDir: maps });
      passes.push({
        files: summary.files,
        skipped: summary.skipped,
        errors: summary.errors,
        overlays: readdirSync(maps).length,
        scanned: results.map((r) => r.file),
      });
    }
    assert.ok(passes[0].overlays >= 2, `the nodules' overlays were written (${passes[0].overlays})`);
    for (const pass of passes)
      assert.deepEqual(pass, { files: 4, skipped: 0, errors: 0, overlays: passes[0].overlays, scanned: images });
    assert.ok(
      existsSync(`${database}-wal`) && existsSync(`${database}.owners`),
      'side files were there to be left out',
    );
    store.close();
  });

  test('overlays are named per image: two IM0001 in two folders get two overlays, each of its own image', async () => {
    const dir = fresh('overlay-names');
    const small = join(dir, 'in', 'patient-a', 'IM0001');
    const large = join(dir, 'in', 'patient-b', 'IM0001');
    writeImage(small, 'nodule', 1, 256);
    writeImage(large, 'nodule', 2, 512);
    const maps = join(dir, 'maps');
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { results } = await run(store, [join(dir, 'in')], { heatmapsDir: maps });
    store.close();
    const overlays = byFile(results);
    const a = overlays.get(small)?.heatmaps?.nodule;
    const b = overlays.get(large)?.heatmaps?.nodule;
    assert.ok(a && b && a !== b, `two overlay files: ${a}, ${b}`);
    assert.equal(readdirSync(maps).length, 2);
    for (const [path, size, name] of [
      [a, 256, 'IM0001'],
      [b, 512, 'IM0001'],
    ] as const) {
      const png = decode(readFileSync(path));
      assert.deepEqual([png.width, png.height], [size, size], `${path} is drawn over its own image`);
      assert.ok(path.startsWith(join(maps, name)), `readable: named after the image (${path})`);
    }
    // The same names on another run, into another database.
    const again = ResultStore.open(join(dir, 'again.sqlite'));
    const rerun = byFile((await run(again, [join(dir, 'in')], { heatmapsDir: maps })).results);
    again.close();
    assert.deepEqual([rerun.get(small)?.heatmaps?.nodule, rerun.get(large)?.heatmaps?.nodule], [a, b]);
    assert.equal(readdirSync(maps).length, 2);
  });
});

/**
 * A DICOM file whose data set ends in one sequence of `items` empty items: a few bytes each on
 * disk, hundreds of bytes each once dicom-parser has read them. The image before it is healthy.
 */
function writeSequenceBomb(path: string, items: number): void {
  const base = readFileSync(copyFixture('explicit-le.dcm', `${path}.base`));
  // (7FE1,1010) SQ of undefined length, after the pixel data (a private tag, ascending order).
  const head = Buffer.from([0xe1, 0x7f, 0x10, 0x10, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const body = Buffer.alloc(items * 8);
  for (let i = 0; i < items; i++) body.writeUInt32LE(0xe000fffe, i * 8); // (FFFE,E000), length 0
  const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  writeFileSync(path, Buffer.concat([base, head, body, end]));
  unlinkSync(`${path}.base`);
}

describe('a header of 4 million sequence items in a folder', () => {
  test('fails alone with its code; the healthy files queued beside it are identified and analysed', async () => {
    const dir = fresh('exhaust');
    const root = join(dir, 'in');
    writeImage(join(root, 'a.png'), 'nodule', 1);
    // 4 million empty items: 32 MB on disk, far beyond the thread's heap once parsed.
    writeSequenceBomb(join(root, 'b-hostile.dcm'), 4_000_000);
    writeImage(join(root, 'c.png'), 'normal', 2);
    copyFixture('no-window.dcm', join(root, 'd.dcm'));
    writeImage(join(root, 'e.png'), 'nodule', 3);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    // Four files asked of the thread at once: the hostile one has healthy ones queued behind it.
    const { summary, results } = await run(store, [root], { identifyAhead: 4 });
    store.close();
    assert.equal(summary.outcome, 'completed');
    const stored = byFile(results);
    const hostile = stored.get(join(root, 'b-hostile.dcm'));
    assert.equal(hostile?.status, 'error');
    // The ingest's structure budget refuses it (TOO_LARGE) in the identification thread and in
    // the decode worker alike, before dicom-parser builds an object per item: neither thread dies.
    // (A thread that does die is the test below's, with a worker that exhausts itself on purpose.)
    assert.equal(hostile.error?.code, 'TOO_LARGE', JSON.stringify(hostile.error));
    assert.deepEqual(
      ['a.png', 'c.png', 'd.dcm', 'e.png'].map((name) => [name, stored.get(join(root, name))?.status]),
      [
        ['a.png', 'ok'],
        ['c.png', 'ok'],
        ['d.dcm', 'ok'],
        ['e.png', 'ok'],
      ],
    );
    assert.deepEqual([summary.files, summary.analysed, summary.ok, summary.errors], [5, 5, 4, 1]);
  });
});
