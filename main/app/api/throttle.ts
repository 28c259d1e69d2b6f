/**
 * Progress events at most once per interval, the latest state always sent in the end: a call
 * inside the interval is held and sent when it ends (a trailing timer), so the window never shows
 * a stale count. Shared by the scan queue and the validations.
 */
export class ProgressThrottle {
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly send: () => void,
  ) {}

  /** Sends now when the interval has passed (or `force`), else once it has. */
  push(force = false): void {
    const now = performance.now();
    this.cancel();
    if (force || now - this.lastAt >= this.intervalMs) {
      this.lastAt = now;
      this.send();
    } else {
      this.timer = setTimeout(() => this.push(true), this.intervalMs - (now - this.lastAt));
    }
  }

  /** Drops a held event. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
