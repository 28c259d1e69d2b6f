/**
 * Tells the window that the worklist changed, at most once per DEBOUNCE_MS while results stream
 * in (a scan lands many per second), at once when asked (a scan ended). The event carries the
 * number of studies only; the window fetches the worklist itself.
 */
import type { ResultReader } from '../../store/index.js';
import type { ApiEmit } from './contract.js';

export const DEBOUNCE_MS = 400;

export class WorklistChanges {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<ResultReader, 'studyCounts'>,
    private readonly emit: ApiEmit,
    private readonly debounceMs = DEBOUNCE_MS,
  ) {}

  changed(now = false): void {
    if (now) {
      if (this.timer) clearTimeout(this.timer);
      this.send();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.send(), this.debounceMs);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private send(): void {
    this.timer = null;
    // The worklist's studies (those with an image that is not a duplicate), counted in one query.
    const studies = Object.values(this.store.studyCounts()).reduce((sum, n) => sum + n, 0);
    this.emit('worklist.changed', { studies });
  }
}
