/**
 * The main process's checks of a window's requests beyond the contract's schemas, per window:
 * what it may scan or validate (reach.ts: paths the user granted it through the open dialog or a
 * drop, or that the results store holds; never a network, device or automount path), and how fast it may
 * write verdicts (rate-limit.ts: feedback.set in bursts of 40, then 10 a second) and drive the
 * DICOM node and open reports (ACTION_LIMITS: connection tests, starts and stops, saves, retries,
 * report openings). `install.ts` runs
 * `check` on every validated request before relaying it; the end-to-end tests' bridge runs the
 * same class, so the page is checked as the app checks it.
 */
import { toTriageError, TriageError } from '../../errors/index.js';
import type { ApiError, Envelope } from '../api/contract.js';
import { ACTION_LIMITS, FEEDBACK_BURST, FEEDBACK_PER_SECOND, TokenBucket } from './rate-limit.js';
import { decideScanPaths, notGrantedRefusal, PathGrants } from './reach.js';
import type { PathSemantics } from './reach.js';

export interface WindowPolicyOptions {
  semantics: PathSemantics;
  /** Which of these paths the results store holds: the engine's answer (EngineLink.stored). */
  stored: (paths: string[]) => Promise<Envelope>;
  /** The clock of the rate limits, ms (performance.now). */
  now?: () => number;
}

const coded = (thrown: unknown): ApiError => {
  const error = toTriageError(thrown);
  return { code: error.code, message: error.message };
};

export class WindowPolicy {
  private readonly grants = new Map<number, PathGrants>();
  /** feedback.set per window: bursts of FEEDBACK_BURST, then FEEDBACK_PER_SECOND. */
  private readonly feedback = new Map<number, TokenBucket>();
  /** The node's requests per window and kind (start and stop share one bucket). */
  private readonly actions = new Map<string, TokenBucket>();

  constructor(private readonly options: WindowPolicyOptions) {}

  /** Paths the user gave this window (the dialog's answer, a dropped file's path). */
  grant(windowId: number, paths: readonly string[]): void {
    let grants = this.grants.get(windowId);
    if (!grants) this.grants.set(windowId, (grants = new PathGrants(this.options.semantics)));
    grants.grant(paths);
  }

  /** The window closed: what it was granted, and its rate limits, go with it. */
  forget(windowId: number): void {
    this.grants.delete(windowId);
    this.feedback.delete(windowId);
    for (const key of [...this.actions.keys()]) if (key.startsWith(`${windowId}:`)) this.actions.delete(key);
  }

  /** Null when a validated request may run; else its coded refusal. */
  async check(windowId: number, channel: string, request: unknown): Promise<ApiError | null> {
    try {
      if (channel === 'scan.start') return await this.checkScan(windowId, (request as { paths: string[] }).paths);
      if (channel === 'validation.start') {
        // The same rule for a validation's folders and its labels file: granted by the dialog or a drop.
        const { images, labels } = request as { images: string[]; labels: string };
        return await this.checkScan(windowId, [...images, labels]);
      }
      if (channel === 'feedback.set') return this.checkFeedback(windowId);
      if (Object.hasOwn(ACTION_LIMITS, channel)) return this.checkAction(windowId, channel);
      return null;
    } catch (thrown) {
      return coded(thrown);
    }
  }

  private checkFeedback(windowId: number): ApiError | null {
    let bucket = this.feedback.get(windowId);
    if (!bucket) {
      bucket = new TokenBucket(FEEDBACK_BURST, FEEDBACK_PER_SECOND, this.options.now);
      this.feedback.set(windowId, bucket);
    }
    if (bucket.take()) return null;
    return coded(
      new TriageError(
        'RATE_LIMITED',
        `More than ${FEEDBACK_BURST} verdicts at once, then ${FEEDBACK_PER_SECOND} a second, were sent; this one was not stored. Wait a moment and give it again.`,
      ),
    );
  }

  private checkAction(windowId: number, channel: string): ApiError | null {
    const limit = ACTION_LIMITS[channel];
    const key = `${windowId}:${limit.what}`;
    let bucket = this.actions.get(key);
    if (!bucket) {
      bucket = new TokenBucket(limit.burst, limit.perSecond, this.options.now);
      this.actions.set(key, bucket);
    }
    if (bucket.take()) return null;
    return coded(
      new TriageError(
        'RATE_LIMITED',
        `More than ${limit.burst} ${limit.what} at once, then ${limit.perSecond} a second, were asked; this one was not done. Wait a moment and try again.`,
      ),
    );
  }

  private async checkScan(windowId: number, paths: string[]): Promise<ApiError | null> {
    const grants = this.grants.get(windowId) ?? new PathGrants(this.options.semantics);
    const reach = decideScanPaths(paths, grants, this.options.semantics);
    if ('refused' in reach) return coded(reach.refused);
    if (reach.unresolved.length === 0) return null;
    // Not granted: allowed only for files the user scanned before (in the results store).
    const answer = await this.options.stored(reach.unresolved);
    if (!answer.ok) return answer.error;
    const stored = new Set(Array.isArray(answer.value) ? answer.value.filter((p) => typeof p === 'string') : []);
    const refused = notGrantedRefusal(reach.unresolved, stored);
    return refused ? coded(refused) : null;
  }
}
