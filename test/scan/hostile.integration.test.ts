/**
 * Folders that fight back: a FIFO swapped in for a file after the walk saw it is refused without
 * waiting, and loses nothing else. SIGTERM: cli.integration.test.ts; the identification thread
 * meeting a FIFO: identifier.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { walk } from '../../main/scan/index.js';
import type { Candidate } from '../../main/scan/index.js';
import { scratchDir } from '../support/tools.js';
import { swapForFifo, watchFifo } from './fifo.js';
import { copyFixture, writeImage } from './fixtures.js';

const scratch = scratchDir('hostile');
after(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => join(scratch.path, `${name}-${++counter}`);

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
