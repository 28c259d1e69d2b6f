/**
 * The shard partition (`triage scan --shard i/N`): the shard of a name is SHA-256-based and the
 * same on every run and platform (values computed independently with Python's hashlib); a walk
 * split into N shards yields every file and error of the whole walk exactly once, each shard in
 * walk order, each file in the shard its path relative to the PATH hashes to, the same under two
 * different mount points; `--shard` parsing, with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { TriageError } from '../../main/errors/index.js';
import { countFiles, parseShard, shardKey, shardOf, walk } from '../../main/scan/index.js';
import type { Candidate, Shard } from '../../main/scan/index.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('shard');
after(() => scratch.remove());

async function walked(roots: string[], shard: Shard | null = null): Promise<Candidate[]> {
  const found: Candidate[] = [];
  for await (const candidate of walk(roots, { shard })) found.push(candidate);
  return found;
}

describe('shardOf', () => {
  test('the first 8 bytes of SHA-256 of the UTF-8 key, modulo N (as Python hashlib computes it)', () => {
    // python3: int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], 'big') % n
    assert.equal(shardOf('a/b.dcm', 7), 1);
    assert.equal(shardOf('000.png', 3), 1);
    assert.equal(shardOf('x/y/z/IM0001', 4), 0);
    assert.equal(shardOf('é/ü.dcm', 5), 3);
    assert.equal(shardOf('only', 1000), 337);
    assert.equal(shardOf('anything', 1), 0);
  });

  test('spreads names over the shards', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardOf(`study-${i}/image.dcm`, 4)]++;
    for (const count of counts) assert.ok(count > 850 && count < 1150, `counts ${counts.join(', ')}`);
  });
});

describe('a walk split into shards', () => {
  const root = join(scratch.path, 'mnt-a', 'archive');
  for (let s = 0; s < 6; s++)
    for (let f = 0; f < 5; f++) {
      mkdirSync(join(root, `study-${s}`, 'series'), { recursive: true });
      writeFileSync(join(root, `study-${s}`, 'series', `im-${f}.dcm`), `content ${s} ${f}`);
      writeFileSync(join(root, `study-${s}`, `note-${f}.txt`), `note ${s} ${f}`);
    }
  symlinkSync(join(root, 'nowhere'), join(root, 'dangling')); // an error candidate
  // The same archive mounted elsewhere.
  mkdirSync(join(scratch.path, 'mnt-b'), { recursive: true });
  symlinkSync(root, join(scratch.path, 'mnt-b', 'data'));
  const other = join(scratch.path, 'mnt-b', 'data');

  test('complete, disjoint, in walk order, each file where its relative path hashes', async () => {
    const whole = await walked([root]);
    assert.equal(whole.length, 61);
    for (const count of [1, 2, 3, 5]) {
      const shards: Candidate[][] = [];
      for (let index = 0; index < count; index++) shards.push(await walked([root], { index, count }));
      const all = shards.flat().map((c) => c.path);
      assert.equal(new Set(all).size, all.length, `${count} shards: no path in two`);
      assert.deepEqual([...all].sort(), whole.map((c) => c.path).sort(), `${count} shards: every path`);
      for (const [index, shard] of shards.entries()) {
        const order = whole.map((c) => c.path).filter((p) => shard.some((c) => c.path === p));
        assert.deepEqual(
          shard.map((c) => c.path),
          order,
          'walk order',
        );
        for (const candidate of shard) assert.equal(shardOf(relative(root, candidate.path), count), index);
        assert.equal(await countFiles([root], [], { index, count }), shard.length, 'counted as walked');
      }
      if (count > 1) assert.ok(shards.every((s) => s.length > 0 && s.length < whole.length));
    }
    assert.ok(
      whole.some((c) => c.kind === 'error'),
      'errors are split as files are',
    );
  });

  test('the same names in each shard under another mount point', async () => {
    for (let index = 0; index < 3; index++) {
      const a = (await walked([root], { index, count: 3 })).map((c) => relative(root, c.path));
      const b = (await walked([other], { index, count: 3 })).map((c) => relative(other, c.path));
      assert.deepEqual(b, a);
    }
  });

  test('a file named as a PATH is keyed by its name in its folder', async () => {
    const file = join(root, 'study-1', 'series', 'im-2.dcm');
    const mine = shardOf('im-2.dcm', 4);
    assert.equal(shardKey(dirname(file), file), 'im-2.dcm');
    for (let index = 0; index < 4; index++)
      assert.equal((await walked([file], { index, count: 4 })).length, index === mine ? 1 : 0);
  });
});

describe('--shard', () => {
  const usage = (text: string, env: NodeJS.ProcessEnv = {}) =>
    assert.throws(
      () => parseShard(text, env),
      (error: unknown) => error instanceof TriageError && error.code === 'USAGE',
      text,
    );

  test('i/N, from 0', () => {
    assert.deepEqual(parseShard('0/3', {}), { index: 0, count: 3 });
    assert.deepEqual(parseShard('2/3', {}), { index: 2, count: 3 });
    assert.deepEqual(parseShard('0/1', {}), { index: 0, count: 1 });
    for (const bad of ['3/3', '0/0', '-1/3', '1', '1/3/4', 'a/3', '1/x', '01/3', '1.5/3', '', '0/10001']) usage(bad);
  });

  test('auto/N takes i from JOB_COMPLETION_INDEX; an explicit i must agree with it', () => {
    assert.deepEqual(parseShard('auto/4', { JOB_COMPLETION_INDEX: '2' }), { index: 2, count: 4 });
    assert.deepEqual(parseShard('auto/4', { JOB_COMPLETION_INDEX: '0' }), { index: 0, count: 4 });
    usage('auto/4');
    usage('auto/4', { JOB_COMPLETION_INDEX: '4' });
    usage('auto/4', { JOB_COMPLETION_INDEX: 'two' });
    assert.deepEqual(parseShard('2/4', { JOB_COMPLETION_INDEX: '2' }), { index: 2, count: 4 });
    usage('1/4', { JOB_COMPLETION_INDEX: '2' });
  });
});
