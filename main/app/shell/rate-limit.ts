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

/**
 * Requests that reach the network, the disk or the desktop: the DICOM node's (node-control.ts: a
 * C-ECHO opens a connection to a peer, start, stop, save and retry bind ports and write files) and
 * Open report (a browser window on the desktop). A person clicking never needs more; a
 * compromised window cannot use the app to flood a peer, the disk or the screen.
 */
export const ACTION_LIMITS: Readonly<Record<string, { burst: number; perSecond: number; what: string }>> = {
  'node.echo': { burst: 5, perSecond: 1, what: 'connection tests' },
  'node.start': { burst: 6, perSecond: 1, what: 'node starts and stops' },
  'node.stop': { burst: 6, perSecond: 1, what: 'node starts and stops' },
  'node.configure': { burst: 10, perSecond: 2, what: 'settings saves' },
  'node.retry': { burst: 10, perSecond: 2, what: 'retries' },
  'validation.openReport': { burst: 3, perSecond: 0.2, what: 'report openings' },
};
