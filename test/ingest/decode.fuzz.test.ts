/**
 * Mutation fuzzing over the conformance fixtures: every damaged file must end in a decoded image
 * or a coded error; no uncaught exception, no hang, no runaway memory. FUZZ_SEED replays a run,
 * FUZZ_CASES sets its size (at least 2,000 by default).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runFuzz } from './fuzz/run.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const CASES = Number(process.env.FUZZ_CASES ?? 2400);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
/** A single small fixture decodes in milliseconds; a case silent this long is a hang. */
const HANG_MS = 15_000;
const RSS_LIMIT_MB = 1536;

test(
  `fuzz: ${CASES} mutated files end in an image or a coded error (seed ${SEED})`,
  { timeout: 15 * 60_000 },
  async () => {
    const files = readdirSync(FIXTURES)
      .filter((name) => /\.(dcm|png|jpg)$/.test(name))
      .map((name) => join(FIXTURES, name));
    assert.ok(files.length >= 15, `expected the conformance fixtures in ${FIXTURES}`);

    const { seen, outcomes, failures, peakRss, summary } = await runFuzz(
      { files, seed: SEED, cases: CASES },
      HANG_MS,
      RSS_LIMIT_MB,
    );
    console.log(`fuzz seed ${SEED}: ${seen} cases; ${summary}; peak RSS ${peakRss.toFixed(0)} MB`);
    assert.deepEqual(
      failures,
      [],
      `uncoded failures (replay with FUZZ_SEED=${SEED}):\n${failures.slice(0, 5).join('\n')}`,
    );
    assert.equal(seen, CASES);
    // Both outcomes must occur, or the mutations are not reaching the decoders.
    assert.ok((outcomes.get('decoded') ?? 0) > 0, 'some mutated files still decode');
    assert.ok(outcomes.size >= 4, `several distinct error codes occur (saw ${summary})`);
  },
);
