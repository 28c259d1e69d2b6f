/** A long job's progress on stderr, as `triage scan`, `eval` and `calibrate` show it. */
import type { Progress } from '../scan/index.js';

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Progress on stderr: a redrawn bar on a terminal, NDJSON events for programs (the desktop app). */
export function progressReporter(tty: boolean): { update(progress: Progress): void; end(): void } {
  let last = -Infinity;
  let latest: Progress | null = null;
  const draw = (progress: Progress) => {
    if (tty) {
      const width = 30;
      const fraction = progress.total ? Math.min(1, progress.done / progress.total) : 0;
      const bar = progress.total
        ? `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '-')}] ${String(Math.floor(fraction * 100)).padStart(3)}% `
        : '';
      const count = progress.total ? `${progress.done}/${progress.total}` : `${progress.done} files`;
      process.stderr.write(
        `\r\x1b[K${bar}${count}  ${progress.rate.toFixed(1)} files/s  ETA ${duration(progress.etaSeconds)}`,
      );
    } else {
      const { done, total, rate, etaSeconds } = progress;
      process.stderr.write(`${JSON.stringify({ progress: { done, total, rate, etaSeconds } })}\n`);
    }
  };
  // At most one line per interval; the latest state is always drawn in the end (a trailing
  // timer), so a reader never waits on a stale count while the scan idles (watch mode).
  const interval = tty ? 100 : 500;
  let trailing: NodeJS.Timeout | null = null;
  let drawn: Progress | null = null;
  let ended = false;
  const flush = () => {
    trailing = null;
    if (latest && latest !== drawn) {
      last = performance.now();
      drawn = latest;
      draw(latest);
    }
  };
  return {
    update(progress) {
      latest = progress;
      const wait = last + interval - performance.now();
      if (wait <= 0) flush();
      else if (!trailing) trailing = setTimeout(flush, wait).unref();
    },
    end() {
      // Once: a job may end its bar early (eval, before its figures), then the bar's owner again.
      if (ended) return;
      ended = true;
      if (trailing) clearTimeout(trailing);
      flush();
      if (tty && latest) process.stderr.write('\n');
    },
  };
}
