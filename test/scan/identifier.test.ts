/**
 * Identification in its own thread: what the Identifier returns is what `identify` gives on the
 * caller's thread (the SHA-256 of the file's bytes, format by content, the UIDs); failures keep
 * their codes and do not stop the next file; a FIFO swapped in for a file is refused without
 * waiting; the thread runs below normal priority under a heap ceiling that a 10 MiB radiograph
 * stays well within; a file that exhausts it fails alone while the files queued behind it are
 * identified by a fresh thread, and so does a file the thread is on past its deadline; close()
 * ends it.
 */
import assert from 'node:assert/strict';
import { StudyIdentity } from '../../main/common/index.js';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TriageError } from '../../main/errors/index.js';
import { ReadBuffer } from '../../main/ingest/index.js';
import { encodePart10 } from '../../main/dicom/index.js';
import { identify } from '../../main/scan/identify.js';
import { Identifier, identifyDeadlineMs, IDENTIFY_DEADLINE_MS } from '../../main/scan/identifier.js';
import { threadNiceValues } from '../support/threads.js';
import { scratchDir } from '../support/tools.js';
import { swapForFifo, watchFifo } from './fifo.js';
import { DICOM, writeImages } from './fixtures.js';

const scratch = scratchDir('identifier');
after(() => scratch.remove());

const stats = (path: string) => {
  const info = statSync(path);
  return { size: info.size, mtimeMs: info.mtimeMs };
};

describe('the identification thread', () => {
  let identifier: Identifier;
  let pngs: string[];
  before(() => {
    identifier = new Identifier();
    pngs = writeImages(join(scratch.path, 'pngs'), 6);
  });
  after(() => identifier.close());

  test('gives what identify gives on this thread: hash of the bytes, format, UIDs', async () => {
    for (const file of [join(DICOM, 'explicit-le.dcm'), join(DICOM, 'deflated-le.dcm'), pngs[0]]) {
      const [there, here] = await Promise.all([
        identifier.identify(file, stats(file)),
        identify(file, stats(file), new ReadBuffer()),
      ]);
      // The identity crosses the thread as plain fields and is sealed again on arrival.
      assert.deepEqual({ ...there, identity: there.identity?.reveal() ?? null }, here, file);
      if (here.identity) assert.ok(there.identity instanceof StudyIdentity, 'sealed on arrival');
      assert.equal(there.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
    const dicom = await identifier.identify(join(DICOM, 'explicit-le.dcm'), stats(join(DICOM, 'explicit-le.dcm')));
    assert.equal(dicom.format, 'dicom');
    assert.match(dicom.sopInstanceUID ?? '', /^[0-9.]+$/);
  });

  test('many files asked at once each get their own answer', async () => {
    const files = [...pngs, ...pngs.slice().reverse()];
    const answers = await Promise.all(files.map((file) => identifier.identify(file, stats(file))));
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.path, files[i]);
      assert.equal(answer.sha256, createHash('sha256').update(readFileSync(files[i])).digest('hex'));
    }
  });

  test('a file that grew since the walk saw it is hashed as it is now, whole', async () => {
    const growing = join(scratch.path, 'growing.png');
    writeFileSync(growing, readFileSync(pngs[3]).subarray(0, 100));
    const seen = stats(growing);
    appendFileSync(growing, readFileSync(pngs[3]).subarray(100));
    const identified = await identifier.identify(growing, seen);
    assert.equal(identified.size, readFileSync(pngs[3]).length);
    assert.equal(identified.sha256, createHash('sha256').update(readFileSync(pngs[3])).digest('hex'));
  });

  test('a missing file is its coded error, and the next file is identified', async () => {
    const missing = join(scratch.path, 'gone.dcm');
    await assert.rejects(identifier.identify(missing, { size: 10, mtimeMs: 0 }), (error: TriageError) => {
      assert.ok(error instanceof TriageError);
      assert.equal(error.code, 'FILE_NOT_FOUND');
      assert.equal(error.file, missing);
      return true;
    });
    assert.equal((await identifier.identify(pngs[1], stats(pngs[1]))).format, 'png');
  });

  test('a large file that is no image is hashed as a stream, never held whole', async () => {
    const path = join(scratch.path, 'video.mp4');
    writeFileSync(path, Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1'));
    truncateSync(path, 100 * 2 ** 20); // sparse, beyond what a ReadBuffer keeps
    const buffer = new ReadBuffer();
    const before = process.memoryUsage().arrayBuffers;
    const identified = await identify(path, stats(path), buffer);
    const grew = process.memoryUsage().arrayBuffers - before;
    assert.equal(identified.format, null);
    assert.equal(identified.size, 100 * 2 ** 20);
    // The reference: Node's own stream of the file, through another read path than the ingest's.
    const reference = createHash('sha256');
    for await (const chunk of createReadStream(path)) reference.update(chunk as Buffer);
    assert.equal(identified.sha256, reference.digest('hex'));
    assert.equal((buffer as unknown as { bytes: Uint8Array }).bytes.length, 0, 'the lent buffer was not used');
    assert.ok(grew < 16 * 2 ** 20, `${grew} bytes of buffers held while hashing 100 MiB`);
  });

  test('a file swapped for a FIFO after the walk saw it is UNREADABLE at once; the next file is identified', async () => {
    const path = join(scratch.path, 'was-a-file.png');
    writeFileSync(path, readFileSync(pngs[0]));
    const seen = stats(path);
    swapForFifo(path);
    const watch = watchFifo(path);
    try {
      await assert.rejects(identifier.identify(path, seen), (error: TriageError) => {
        assert.equal(error.code, 'UNREADABLE');
        assert.match(error.message, /not a regular file/);
        return true;
      });
    } finally {
      assert.equal(watch.stop(), false, 'no thread waited for a writer on the FIFO');
    }
    assert.equal((await identifier.identify(pngs[1], stats(pngs[1]))).format, 'png');
  });

  test(
    'the thread runs below normal priority (Linux)',
    { skip: process.platform !== 'linux' && 'per-thread priority is Linux only' },
    () => {
      const nice = threadNiceValues();
      assert.ok([...nice.values()].includes(10), `a thread at nice 10: ${JSON.stringify([...nice])}`);
      assert.equal(nice.get(process.pid), 0);
    },
  );

  test('after close(), asking is a coded error and no thread is left', async () => {
    const closing = new Identifier();
    await closing.identify(pngs[2], stats(pngs[2]));
    const before = threadNiceValues().size;
    await closing.close();
    await assert.rejects(closing.identify(pngs[2], stats(pngs[2])), (error: TriageError) => error.code === 'INTERNAL');
    assert.ok(threadNiceValues().size < before, 'the worker thread ended');
  });
});

describe('a file that kills the identification thread', () => {
  test('a healthy 10 MiB DICOM is identified under the heap ceiling', async () => {
    const path = join(scratch.path, 'ten-mib.dcm');
    const sop = '1.2.826.0.1.3680043.10.1234.1';
    const study = '1.2.826.0.1.3680043.10.1234.2';
    const rows = 2048;
    const columns = 2560; // 2048 x 2560 x 2 bytes: 10 MiB of pixels
    const pixels = new Uint16Array(rows * columns).map((_, i) => (i * 7) & 0xfff);
    const bytes = encodePart10(
      [
        { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.1.1' },
        { tag: 0x00080018, vr: 'UI', value: sop },
        { tag: 0x00080060, vr: 'CS', value: 'DX' },
        { tag: 0x0020000d, vr: 'UI', value: study },
        { tag: 0x0020000e, vr: 'UI', value: `${study}.1` },
        { tag: 0x00280002, vr: 'US', value: 1 },
        { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280010, vr: 'US', value: rows },
        { tag: 0x00280011, vr: 'US', value: columns },
        { tag: 0x00280100, vr: 'US', value: 16 },
        { tag: 0x00280101, vr: 'US', value: 12 },
        { tag: 0x00280102, vr: 'US', value: 11 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x7fe00010, vr: 'OW', value: pixels },
      ],
      {
        mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
        mediaStorageSOPInstanceUID: sop,
        implementationClassUID: '1.2.826.0.1.3680043.10.1234',
      },
    );
    writeFileSync(path, bytes);
    assert.ok(bytes.length > 10 * 1024 * 1024);
    const identifier = new Identifier();
    try {
      const identified = await identifier.identify(path, stats(path));
      assert.deepEqual(
        [identified.format, identified.sopInstanceUID, identified.studyInstanceUID, identified.size],
        ['dicom', sop, study, bytes.length],
      );
      assert.equal(identified.sha256, createHash('sha256').update(bytes).digest('hex'));
    } finally {
      await identifier.close();
    }
  });

  test('the file it was reading fails alone; the files queued behind it go to a fresh thread', async () => {
    const pngs = writeImages(join(scratch.path, 'queued'), 4);
    const hostile = join(scratch.path, 'header.exhaust');
    writeFileSync(hostile, readFileSync(join(DICOM, 'explicit-le.dcm')));
    const identifier = new Identifier({ worker: new URL('./exhausting-identify-worker.ts', import.meta.url) });
    try {
      const files = [pngs[0], hostile, pngs[1], join(DICOM, 'explicit-le.dcm'), pngs[2], hostile, pngs[3]];
      const answers = await Promise.allSettled(files.map((file) => identifier.identify(file, stats(file))));
      for (const [i, answer] of answers.entries()) {
        if (files[i] === hostile) {
          assert.equal(answer.status, 'rejected', `${i}: the hostile file fails`);
          const error = (answer as PromiseRejectedResult).reason as TriageError;
          assert.equal(error.code, 'DECODE_FAILED');
          assert.equal(error.file, hostile);
          assert.match(error.message, /ran out of its \d+ MB of memory/);
        } else {
          assert.equal(answer.status, 'fulfilled', `${i}: ${files[i]} is identified`);
          const { sha256 } = (answer as PromiseFulfilledResult<{ sha256: string }>).value;
          assert.equal(sha256, createHash('sha256').update(readFileSync(files[i])).digest('hex'));
        }
      }
      // The thread that replaced the dead ones goes on.
      assert.equal((await identifier.identify(pngs[0], stats(pngs[0]))).format, 'png');
    } finally {
      await identifier.close();
    }
  });

  test('a file the thread is on past its deadline is DECODE_TIMEOUT; the files behind it are identified', async () => {
    const pngs = writeImages(join(scratch.path, 'behind-stall'), 2);
    const stalling = join(scratch.path, 'header.stall');
    writeFileSync(stalling, readFileSync(pngs[0]));
    const identifier = new Identifier({
      worker: new URL('./exhausting-identify-worker.ts', import.meta.url),
      deadlineMs: 300,
    });
    try {
      const began = performance.now();
      const [stalled, ...rest] = await Promise.allSettled(
        [stalling, ...pngs].map((file) => identifier.identify(file, stats(file))),
      );
      const took = performance.now() - began;
      assert.equal(stalled.status, 'rejected');
      const error = (stalled as PromiseRejectedResult).reason as TriageError;
      assert.equal(error.code, 'DECODE_TIMEOUT');
      assert.equal(error.file, stalling);
      // The deadline is 300 ms plus 1 s for the file's one started MiB.
      assert.ok(took >= 1300, `stopped after ${Math.round(took)} ms, before its deadline`);
      for (const [i, answer] of rest.entries()) assert.equal(answer.status, 'fulfilled', pngs[i]);
    } finally {
      await identifier.close();
    }
  });

  test('the deadline allows 1 s per started MiB beyond its fixed part; a DICOMDIR gets the fixed part', () => {
    const job = (size: number) => ({ type: 'identify' as const, id: 1, path: 'x', stats: { size, mtimeMs: 0 } });
    assert.equal(identifyDeadlineMs(job(0)), IDENTIFY_DEADLINE_MS);
    assert.equal(identifyDeadlineMs(job(1)), IDENTIFY_DEADLINE_MS + 1000);
    assert.equal(identifyDeadlineMs(job(256 * 2 ** 20)), IDENTIFY_DEADLINE_MS + 256_000);
    assert.equal(identifyDeadlineMs({ type: 'references', id: 1, path: 'DICOMDIR' }), IDENTIFY_DEADLINE_MS);
  });

  test('a DICOMDIR whose reading kills the thread is INVALID_DICOMDIR; the next request is answered', async () => {
    const identifier = new Identifier({ worker: new URL('./exhausting-identify-worker.ts', import.meta.url) });
    const hostile = join(scratch.path, 'DICOMDIR.exhaust');
    writeFileSync(hostile, 'x');
    try {
      const [references, next] = await Promise.allSettled([
        identifier.references(hostile),
        identifier.identify(join(DICOM, 'explicit-le.dcm'), stats(join(DICOM, 'explicit-le.dcm'))),
      ]);
      assert.equal(references.status, 'rejected');
      assert.equal(((references as PromiseRejectedResult).reason as TriageError).code, 'INVALID_DICOMDIR');
      assert.equal(next.status, 'fulfilled');
    } finally {
      await identifier.close();
    }
  });
});
