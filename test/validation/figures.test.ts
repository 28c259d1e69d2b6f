// The evaluation's figures on a worker thread: the calling thread keeps serving while they are
// computed, the answer is evaluate()'s, and a stop ends the worker at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeFigures, evaluate } from '../../main/validation/index.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import type { LabelledImage } from '../../main/validation/index.js';
import { mulberry32 } from '../../main/phantom/index.js';
import { collected, image, labels, pack } from './results.js';

/** Seeded images: consolidation and pneumothorax scores that lean towards their labels. */
function images(n: number): LabelledImage[] {
  const next = mulberry32(5);
  return Array.from({ length: n }, (_, i) => {
    const a = next() < 0.3 ? 1 : 0;
    const b = next() < 0.2 ? 1 : 0;
    const score = (label: number) => [0, 1, 2].map(() => Math.round((0.35 * label + 0.65 * next()) * 1e4) / 1e4);
    return image(`/i/${i}.dcm`, [a, b, 0, 0], score(a), score(b), `patient ${i % 400}`, i % 2 ? 'F' : 'M');
  });
}

const request = (n: number, resamples: number) => ({
  labels,
  collected: collected(images(n)),
  pack,
  paths: ['/i'],
  bootstrap: { resamples, seed: 3 },
  createdAt: '2026-12-07T00:00:00.000Z',
  software: 'test',
});

test('the worker answers what evaluate() computes, and the calling thread keeps turning meanwhile', async () => {
  const options = request(1200, 400);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const figures = await computeFigures(options);
  clearInterval(timer);
  assert.ok(ticks > 0, 'the event loop ran while the figures were computed');
  const inline = evaluate({ ...options, taxonomy: await loadTaxonomy() });
  assert.deepEqual(figures, inline);
  assert.equal(figures!.evaluation.intervals.clustered, true);
});

test('a stop ends the figures: nothing is answered, the promise settles with null', async () => {
  const controller = new AbortController();
  const pending = computeFigures(request(3000, 5000), controller.signal);
  setTimeout(() => controller.abort(), 50);
  assert.equal(await pending, null);
  const stopped = new AbortController();
  stopped.abort();
  assert.equal(await computeFigures(request(10, 10), stopped.signal), null);
});

test('a coded failure in the worker reaches the caller with its code', async () => {
  const none = { ...request(5, 10), collected: collected([]) };
  await assert.rejects(computeFigures(none), (e: Error & { code?: string }) => e.code === 'NOTHING_TO_EVALUATE');
});
