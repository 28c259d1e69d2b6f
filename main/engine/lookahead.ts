/**
 * The engine's intake: files pulled from a source (a list, or a scan's stream) and handed to the
 * decode pool ahead of the batch being run, at most `capacity` ahead, so the workers always have
 * the next files while the models run, and a folder of any size holds a bounded number of
 * prepared images in memory. The source is only pulled as room frees up (backpressure).
 */
import type { DecodeJob, DecodePool } from './decode-pool.js';

export class Lookahead {
  private readonly jobs: DecodeJob[] = [];
  private ended = false;
  private stopped = false;
  private failure: { error: unknown } | null = null;
  private wakeConsumer: (() => void) | null = null;
  private wakePump: (() => void) | null = null;
  /** Handed to the pool and not yet released by the consumer (yielded). */
  private outstanding = 0;
  private highWater = 0;

  constructor(
    source: Iterable<string> | AsyncIterable<string>,
    private readonly pool: DecodePool,
    readonly capacity: number,
    /** The content a file must still have (its stored result's), or null when not checked. */
    private readonly sha256Of: (file: string) => string | null = () => null,
  ) {
    void this.pump(source); // never rejects: a failure of the source is kept for rethrow()
  }

  /** The most files handed to the pool and not yet released at once. */
  get highWaterOutstanding(): number {
    return this.highWater;
  }

  private async pump(source: Iterable<string> | AsyncIterable<string>): Promise<void> {
    try {
      for await (const file of source) {
        while (!this.stopped && this.jobs.length >= this.capacity)
          await new Promise<void>((resolve) => (this.wakePump = resolve));
        if (this.stopped) break;
        this.jobs.push(this.pool.prepare(file, this.sha256Of(file)));
        this.outstanding++;
        if (this.outstanding > this.highWater) this.highWater = this.outstanding;
        this.wake();
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = null;
    wake?.();
  }

  /** The source is exhausted and every job taken. */
  get done(): boolean {
    return this.ended && this.jobs.length === 0;
  }

  /** The next job if one is waiting now. */
  private shift(): DecodeJob | undefined {
    const job = this.jobs.shift();
    if (job) {
      const wake = this.wakePump;
      this.wakePump = null;
      wake?.();
    }
    return job;
  }

  /** The next job, waiting up to `ms` for the source; undefined on timeout or at the end. */
  async next(ms: number): Promise<DecodeJob | undefined> {
    const deadline = performance.now() + ms;
    for (;;) {
      const job = this.shift();
      if (job || this.ended) return job;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
        if (Number.isFinite(left)) setTimeout(resolve, left).unref();
      });
    }
  }

  /** The consumer is done with `count` files (yielded): they no longer count as held. */
  release(count: number): void {
    this.outstanding -= count;
  }

  /** A failure of the source itself (not of a file), rethrown to the consumer at the end. */
  rethrow(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Stops pulling the source and cancels the jobs not taken (started ones just finish). */
  stop(): void {
    this.stopped = true;
    this.pool.cancel(this.jobs.splice(0));
    const wake = this.wakePump;
    this.wakePump = null;
    wake?.();
  }
}
