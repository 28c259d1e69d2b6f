/**
 * A token bucket: bursts up to `capacity`, then `perSecond` sustained. The main process keeps one
 * per window for requests that write (feedback.set), so a compromised window cannot flood the
 * results store's append-only feedback log, while a reader clicking as fast as a reader can is
 * never refused.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.at = now();
  }

  /** Takes one token: true if there was one, false if the caller must be refused. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (Math.max(0, now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Verdicts a window may give at once: a reader going through a long findings tree in a hurry. */
export const FEEDBACK_BURST = 40;
/** Verdicts per second after the burst: faster than anyone reads a finding. */
export const FEEDBACK_PER_SECOND = 10;
