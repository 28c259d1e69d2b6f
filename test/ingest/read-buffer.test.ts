/**
 * A decode worker reads every file into one ReadBuffer: each file must decode exactly as it does
 * from its own memory, whatever the files before it were (larger, smaller, another syntax), and
 * errors must stay the same coded errors.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readRadiograph, ReadBuffer, renderDisplay } from '../../main/ingest/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dicom');

test('files read one after another into one ReadBuffer decode as from their own memory', async () => {
  const files = readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.dcm') || name.endsWith('.png') || name.endsWith('.jpg') || name.endsWith('.bin'))
    .map((name) => join(FIXTURES, name));
  // Large before small and small before large, so stale bytes would show.
  files.sort((a, b) => statSync(b).size - statSync(a).size);
  const order = [...files, ...files.slice().reverse()];
  const buffer = new ReadBuffer();
  let decoded = 0;
  for (const file of order) {
    const own = await readRadiograph(file).then(
      (r) => ({ r, error: null }),
      (error: { code: string }) => ({ r: null, error: error.code }),
    );
    const shared = await readRadiograph(file, {}, buffer).then(
      (r) => ({ r, error: null }),
      (error: { code: string }) => ({ r: null, error: error.code }),
    );
    assert.equal(shared.error, own.error, file);
    if (!own.r || !shared.r) continue;
    decoded++;
    assert.deepEqual(shared.r.pixels, own.r.pixels, file);
    assert.deepEqual(shared.r.padding, own.r.padding, file);
    assert.deepEqual(shared.r.window, own.r.window, file);
    assert.deepEqual(renderDisplay(shared.r).pixels, renderDisplay(own.r).pixels, file);
  }
  assert.ok(decoded > 40, `${decoded} decoded`);
});

test('a ReadBuffer keeps its memory for files up to its limit, never for larger ones', () => {
  const buffer = new ReadBuffer();
  const first = buffer.take(1000);
  assert.equal(buffer.take(500).buffer, first.buffer, 'a smaller file reuses the memory');
  assert.equal(buffer.take(500).length, 500);
  const huge = buffer.take(ReadBuffer.MAX_KEPT_BYTES + 1);
  assert.notEqual(huge.buffer, first.buffer);
  assert.equal(buffer.take(800).buffer, first.buffer, 'a huge file is not kept');
});
