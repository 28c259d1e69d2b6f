/**
 * The feedback rate limit, on a hand-driven clock: a token bucket gives bursts of FEEDBACK_BURST,
 * then FEEDBACK_PER_SECOND; a reader judging findings as fast as a reader can is never refused;
 * a flood is cut to the burst plus the rate; the window policy refuses feedback.set beyond it
 * with RATE_LIMITED, per window, and leaves other channels alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FEEDBACK_BURST, FEEDBACK_PER_SECOND, TokenBucket } from '../../../main/app/shell/rate-limit.js';
import { WindowPolicy } from '../../../main/app/shell/window-policy.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const verdict = { file: '/data/a.dcm', term: 'nodule', tree: 'finding', verdict: 'agree' };

describe('the token bucket', () => {
  test('a burst of its capacity, then its rate', () => {
    const time = clock();
    const bucket = new TokenBucket(5, 2, time.now);
    assert.deepEqual(
      Array.from({ length: 7 }, () => bucket.take()),
      [true, true, true, true, true, false, false],
    );
    time.advance(499);
    assert.equal(bucket.take(), false, 'not a whole token yet');
    time.advance(1);
    assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false);
    time.advance(3_600_000);
    assert.equal(
      Array.from({ length: 10 }, () => bucket.take()).filter(Boolean).length,
      5,
      'never more than its capacity',
    );
  });

  test('a clock that goes backwards gives nothing', () => {
    let now = 1000;
    const bucket = new TokenBucket(1, 1, () => now);
    assert.equal(bucket.take(), true);
    now = 0;
    assert.equal(bucket.take(), false);
  });
});

describe('feedback.set per window', () => {
  test('a reader clicking fast is never refused: 8 verdicts a second for ten minutes, and bursts of 40', async () => {
    assert.equal(FEEDBACK_BURST, 40);
    assert.equal(FEEDBACK_PER_SECOND, 10);
    const time = clock();
    const policy = new WindowPolicy({
      semantics: 'posix',
      stored: async () => ({ ok: true, value: [] }),
      now: time.now,
    });
    for (let i = 0; i < 40; i++) assert.equal(await policy.check(1, 'feedback.set', verdict), null, `burst ${i}`);
    time.advance(4000);
    for (let i = 0; i < 8 * 600; i++) {
      assert.equal(await policy.check(1, 'feedback.set', verdict), null, `verdict ${i}`);
      time.advance(125);
    }
  });

  test('a flood is cut to the burst and the rate, with RATE_LIMITED; other windows and channels are untouched', async () => {
    const time = clock();
    const policy = new WindowPolicy({
      semantics: 'posix',
      stored: async () => ({ ok: true, value: [] }),
      now: time.now,
    });
    let accepted = 0;
    let refusal: { code: string; message: string } | null = null;
    // 10,000 requests over one second.
    for (let i = 0; i < 10_000; i++) {
      const answer = await policy.check(1, 'feedback.set', verdict);
      if (answer === null) accepted++;
      else refusal = answer;
      time.advance(0.1);
    }
    // The burst, and the 9 whole tokens of the 999.9 ms that followed the first request.
    assert.equal(accepted, FEEDBACK_BURST + FEEDBACK_PER_SECOND - 1);
    assert.equal(refusal?.code, 'RATE_LIMITED');
    assert.match(refusal!.message, /Wait a moment and give it again/);
    assert.equal(await policy.check(2, 'feedback.set', verdict), null, 'another window has its own bucket');
    assert.equal(await policy.check(1, 'worklist.list', {}), null, 'other channels are not limited');
    policy.forget(1);
    assert.equal(await policy.check(1, 'feedback.set', verdict), null, 'a new window session starts full');
  });
});

describe('the DICOM node per window', () => {
  test('Test connection: 5 at once, then 1 a second; start and stop share a bucket; other channels are free', async () => {
    let now = 0;
    const policy = new WindowPolicy({
      semantics: 'posix',
      stored: async () => ({ ok: true, value: [] }),
      now: () => now,
    });
    const echo = { destination: 'PACS@127.0.0.1:104' };
    for (let i = 0; i < 5; i++) assert.equal(await policy.check(1, 'node.echo', echo), null, `echo ${i}`);
    assert.equal((await policy.check(1, 'node.echo', echo))?.code, 'RATE_LIMITED');
    now += 1000;
    assert.equal(await policy.check(1, 'node.echo', echo), null, 'one more after a second');
    for (let i = 0; i < 3; i++) assert.equal(await policy.check(1, 'node.start', {}), null);
    for (let i = 0; i < 3; i++) assert.equal(await policy.check(1, 'node.stop', {}), null);
    assert.equal((await policy.check(1, 'node.stop', {}))?.code, 'RATE_LIMITED', 'starts and stops together');
    for (let i = 0; i < 100; i++) assert.equal(await policy.check(1, 'node.get', {}), null, 'reading is not limited');
    assert.equal(await policy.check(2, 'node.echo', echo), null, 'another window has its own bucket');
  });

  test('Open report: 3 at once, then one every 5 seconds, so a window cannot flood the desktop with browsers', async () => {
    let now = 0;
    const policy = new WindowPolicy({
      semantics: 'posix',
      stored: async () => ({ ok: true, value: [] }),
      now: () => now,
    });
    for (let i = 0; i < 3; i++) assert.equal(await policy.check(1, 'validation.openReport', {}), null, `open ${i}`);
    assert.equal((await policy.check(1, 'validation.openReport', {}))?.code, 'RATE_LIMITED');
    now += 4000;
    assert.equal((await policy.check(1, 'validation.openReport', {}))?.code, 'RATE_LIMITED', 'not yet');
    now += 1000;
    assert.equal(await policy.check(1, 'validation.openReport', {}), null, 'one more after 5 seconds');
    for (let i = 0; i < 50; i++)
      assert.equal(await policy.check(1, 'validation.get', {}), null, 'reading is not limited');
  });
});
