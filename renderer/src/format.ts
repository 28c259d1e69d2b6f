/** How numbers, times and names read in the UI. */
import { percentOf } from '../../main/common/index.js';

/**
 * A calibrated probability as the CLI writes it: whole percents rounded down, never 50% below the
 * operating point (main/common's percentOf); a dash for none.
 */
export function percent(probability: number | null | undefined): string {
  if (probability === null || probability === undefined) return '–';
  return percentOf(probability);
}

export function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–:––';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function timeOfDay(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const sameDay = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${date.toLocaleDateString()} ${time}`;
}

/** A PadChest term with its first letter capitalised, as a label. */
export function termLabel(term: string): string {
  return term.charAt(0).toUpperCase() + term.slice(1);
}

/** The last segments of a long path, for a tooltip-free glance. */
export function shortPath(path: string, segments = 2): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length <= segments ? path : `…/${parts.slice(-segments).join('/')}`;
}

/** A UID shortened to its tail: enough to tell studies apart. */
export function shortUid(uid: string): string {
  return uid.length > 18 ? `…${uid.slice(-12)}` : uid;
}

/** The roots a scan event names, and how many more there are ("a, b, c and 5 more"). */
export function namedRoots(shown: string[], count: number): string {
  const names = shown.map((root) => shortPath(root)).join(', ');
  return count > shown.length ? `${names} and ${count - shown.length} more` : names;
}

/** "a: 2, b: 1" of counts by key, most first; "none" when empty. */
export function countsText(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key}: ${n}`).join(', ');
}
