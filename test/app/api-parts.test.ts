/**
 * The pieces of the app's API beside the handlers, each on its own: the scan queue (one scan at a
 * time on the real engine and store, later ones queued, throttled progress with the latest state
 * always sent, a failed scan ending with its code while the queue goes on), the analysis cache
 * (least recently used out, failures not kept) and the worklist's change events (debounced).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Analysis } from '../../main/engine/index.js';
import { Engine } from '../../main/engine/index.js';
import { TriageError } from '../../main/errors/index.js';
import { AnalysisCache } from '../../main/app/api/analysis-cache.js';
import type { ApiEmit, ScanProgressData } from '../../main/app/api/contract.js';
import { ScanQueue } from '../../main/app/api/scan-queue.js';
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
      if (!state.running && state.queued.length === 0) {
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
    assert.deepEqual(scans.state().queued, []);
    assert.equal(scans.cancel(), false, 'nothing to cancel');
  });

  test('one scan at a time: the second waits in the queue, then runs; the last state always goes out', async () => {
    const first = writeImages(join(scratch.path, 'first'), 6);
    const second = writeImages(join(scratch.path, 'second'), 3, 224); // other content: no duplicates
    const { scans, states, results, idle } = queue(50);
    await scans.start([join(scratch.path, 'first')]);
    await scans.start([join(scratch.path, 'second'), join(scratch.path, 'second')]);
    assert.equal(scans.state().running, true);
    assert.deepEqual(scans.state().queued, [[join(scratch.path, 'second')]], 'queued once, duplicates dropped');
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
    assert.deepEqual(scans.state().queued, []);
    await idle();
    assert.equal(scans.state().last?.outcome, 'interrupted');
    assert.ok(
      !store.worklist().some((s) => s.images.some((i) => i.file.includes('/never/'))),
      'the queued scan never ran',
    );
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
