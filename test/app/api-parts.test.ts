/**
 * The pieces of the app's API beside the handlers, each on its own: the scan queue (one scan at a
 * time on the real engine and store, later ones queued, throttled progress with the latest state
 * always sent, a failed scan ending with its code while the queue goes on), the analysis cache
 * (least recently used out, failures not kept) and the worklist's change events (debounced).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Analysis } from '../../main/engine/index.js';
import { Engine } from '../../main/engine/index.js';
import { TriageError } from '../../main/errors/index.js';
import { AnalysisCache } from '../../main/app/api/analysis-cache.js';
import { ScanProgress, SHOWN_ROOTS } from '../../main/app/api/contract.js';
import type { ApiEmit, ScanProgressData } from '../../main/app/api/contract.js';
import { MAX_WAITING_SCANS, ScanQueue } from '../../main/app/api/scan-queue.js';
import { WorklistChanges } from '../../main/app/api/worklist-changes.js';
import { ResultStore } from '../../main/store/index.js';
import { defaultRules } from '../../main/triage/index.js';
import { CAM_PACK, writeImages } from '../scan/fixtures.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('api-parts');
after(() => scratch.remove());

/** Resolves once the queue has no scan running and none waiting. */
function untilIdle(scans: ScanQueue): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const state = scans.state();
      if (!state.running && state.queued === 0) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
  });
}

describe('the scan queue', () => {
  let engine: Engine;
  let store: ResultStore;
  before(async () => {
    engine = await Engine.create({ models: CAM_PACK, provider: 'cpu', threads: 1, batchSize: 4 });
    store = ResultStore.open(join(scratch.path, 'queue.sqlite'));
  });
  after(async () => {
    await engine?.close();
    store?.close();
  });

  function queue(interval = 50) {
    const states: Array<{ at: number; state: ScanProgressData }> = [];
    const results: boolean[] = [];
    const scans = new ScanQueue({
      engine,
      store,
      rules: defaultRules(),
      progressIntervalMs: interval,
      onProgress: (state) => states.push({ at: performance.now(), state }),
      onResults: (now) => results.push(now),
    });
    const idle = () => untilIdle(scans);
    return { scans, states, results, idle };
  }

  test('a path that does not exist is refused at once and nothing is queued', async () => {
    const { scans } = queue();
    await assert.rejects(
      scans.start([join(scratch.path, 'absent')]),
      (error: TriageError) => error.code === 'FILE_NOT_FOUND',
    );
    assert.equal(scans.state().running, false);
    assert.equal(scans.state().queued, 0);
    assert.equal(scans.cancel(), false, 'nothing to cancel');
  });

  test('one scan at a time: the second waits in the queue, then runs; the last state always goes out', async () => {
    const first = writeImages(join(scratch.path, 'first'), 6);
    const second = writeImages(join(scratch.path, 'second'), 3, 224); // other content: no duplicates
    const { scans, states, results, idle } = queue(50);
    await scans.start([join(scratch.path, 'first')]);
    await scans.start([join(scratch.path, 'second'), join(scratch.path, 'second')]);
    assert.equal(scans.state().running, true);
    assert.equal(scans.state().queued, 1);
    assert.deepEqual(scans.state().queuedRoots, [join(scratch.path, 'second')], 'queued once, duplicates dropped');
    assert.equal(scans.state().queuedRootCount, 1);
    await idle();
    const last = states[states.length - 1].state;
    assert.equal(last.running, false);
    assert.deepEqual(last.roots, [join(scratch.path, 'second')]);
    assert.equal(last.last?.outcome, 'completed');
    assert.equal(last.last?.files, second.length);
    assert.equal(last.done, second.length, 'the final count reached the window');
    assert.equal(store.worklist().flatMap((s) => s.images).length, first.length + second.length);
    assert.equal(results.filter((now) => now).length, 2, 'an immediate worklist refresh at the end of each scan');
    // Throttled: unforced progress events at least the interval apart (a state change, start or
    // end, is sent at once and may follow closer).
    const running = states.filter((s) => s.state.running && s.state.done > 0);
    for (let i = 1; i < running.length; i++) {
      if (running[i].state.roots === running[i - 1].state.roots)
        assert.ok(running[i].at - running[i - 1].at >= 45, 'progress throttled');
    }
  });

  test('cancel stops the running scan after its batch, keeps its results and drops the queue', async () => {
    writeImages(join(scratch.path, 'long'), 24);
    writeImages(join(scratch.path, 'never'), 2);
    const { scans, idle } = queue();
    await scans.start([join(scratch.path, 'long')]);
    await scans.start([join(scratch.path, 'never')]);
    assert.equal(scans.cancel(), true);
    assert.equal(scans.state().queued, 0);
    await idle();
    assert.equal(scans.state().last?.outcome, 'interrupted');
    assert.ok(
      !store.worklist().some((s) => s.images.some((i) => i.file.includes('/never/'))),
      'the queued scan never ran',
    );
  });

  test('at most 32 scans wait; one more is refused with SCAN_QUEUE_FULL; events stay small', async () => {
    // 256 roots per request (the contract's most), all real files.
    const many = join(scratch.path, 'many');
    mkdirSync(many);
    const roots = Array.from({ length: 256 }, (_, i) => {
      const path = join(many, `${'r'.repeat(60)}-${String(i).padStart(3, '0')}.txt`);
      writeFileSync(path, 'not a radiograph');
      return path;
    });
    writeImages(join(scratch.path, 'running'), 2);
    // An engine that holds the running scan until released, so the queue fills behind it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holding = new Proxy(engine, {
      get(target, key, receiver) {
        if (key === 'analyze') {
          return (...args: Parameters<Engine['analyze']>) =>
            (async function* () {
              await held;
              yield* target.analyze(...args);
            })();
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const states: ScanProgressData[] = [];
    const scans = new ScanQueue({
      engine: holding,
      store,
      rules: defaultRules(),
      onProgress: (state) => states.push(state),
      onResults: () => {},
    });
    try {
      await scans.start([join(scratch.path, 'running')]);
      assert.equal(scans.state().running, true);
      for (let i = 0; i < MAX_WAITING_SCANS; i++) await scans.start(roots);
      assert.equal(MAX_WAITING_SCANS, 32);
      await assert.rejects(scans.start(roots), (error: TriageError) => error.code === 'SCAN_QUEUE_FULL');
      await assert.rejects(
        scans.start([join(scratch.path, 'absent')]),
        (error: TriageError) => error.code === 'SCAN_QUEUE_FULL',
        'refused before the path is looked at',
      );
      const state = scans.state();
      assert.equal(state.queued, MAX_WAITING_SCANS);
      assert.equal(state.queuedRootCount, MAX_WAITING_SCANS * roots.length);
      assert.deepEqual(state.queuedRoots, roots.slice(0, SHOWN_ROOTS));
      assert.ok(ScanProgress.safeParse(state).success, 'the contract accepts it');
      // 8,192 roots of 80 characters wait; every event the window got is still under 2 KB.
      const largest = Math.max(...states.map((sent) => JSON.stringify(sent).length));
      assert.ok(largest < 2048, `largest progress event ${largest} characters`);
    } finally {
      // Even when an assertion failed: nothing may stay held or queued behind this test.
      scans.cancel();
      release();
      await untilIdle(scans);
    }
  });

  test('a scan that fails ends with its coded error, and the next one in the queue runs', async () => {
    writeImages(join(scratch.path, 'after-failure'), 2);
    const states: ScanProgressData[] = [];
    let failOnce = true;
    // A store whose first scan cannot begin (as a locked database would), then the real one.
    const flaky = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'beginScan' && failOnce) {
          failOnce = false;
          return () => {
            throw new TriageError('DATABASE_LOCKED', 'The results database is locked by another process.');
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const scans = new ScanQueue({
      engine,
      store: flaky,
      rules: defaultRules(),
      onProgress: (s) => states.push(s),
      onResults: () => {},
    });
    await scans.start([join(scratch.path, 'after-failure')]);
    await scans.start([join(scratch.path, 'after-failure')]);
    await untilIdle(scans);
    const failed = states.find((s) => s.last?.outcome === 'failed');
    assert.equal(failed?.last?.error?.code, 'DATABASE_LOCKED');
    assert.equal(scans.state().last?.outcome, 'completed', 'the queue went on');
    await scans.close();
  });
});

describe('the analysis cache', () => {
  const analysis = (file: string) => ({ file }) as unknown as Analysis;

  test('keeps the latest analyses, least recently used out first', async () => {
    const asked: string[] = [];
    const cache = new AnalysisCache(async (file) => {
      asked.push(file);
      return analysis(file);
    }, 2);
    await cache.get('/a');
    await cache.get('/b');
    await cache.get('/a'); // cached, now the latest
    await cache.get('/c'); // /b leaves
    assert.deepEqual(asked, ['/a', '/b', '/c']);
    assert.deepEqual(cache.files(), ['/a', '/c']);
    await cache.get('/b');
    assert.deepEqual(asked, ['/a', '/b', '/c', '/b'], '/b was analysed again');
    cache.delete('/c');
    assert.deepEqual(cache.files(), ['/b']);
  });

  test('a failed analysis is not kept: the next request tries again', async () => {
    let calls = 0;
    const cache = new AnalysisCache(async (file) => {
      calls++;
      if (calls === 1) throw new TriageError('DECODE_FAILED', 'broken');
      return analysis(file);
    });
    await assert.rejects(cache.get('/x'), (error: TriageError) => error.code === 'DECODE_FAILED');
    assert.deepEqual(cache.files(), []);
    assert.deepEqual(await cache.get('/x'), analysis('/x'));
    assert.equal(calls, 2);
  });
});

describe('worklist change events', () => {
  test('debounced while results stream in, at once when asked; the count of studies only', async () => {
    const sent: unknown[] = [];
    const emit: ApiEmit = (event, payload) => sent.push({ event, payload });
    const changes = new WorklistChanges(
      { studyCounts: () => ({ critical: 1, urgent: 2, abnormal: 0, 'needs review': 0, normal: 3 }) },
      emit,
      30,
    );
    changes.changed();
    changes.changed();
    changes.changed();
    assert.equal(sent.length, 0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(sent, [{ event: 'worklist.changed', payload: { studies: 6 } }]);
    changes.changed();
    changes.changed(true);
    assert.equal(sent.length, 2, 'sent at once, the pending one replaced');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(sent.length, 2);
    changes.close();
  });
});
