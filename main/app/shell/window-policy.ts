/**
 * The main process's checks of a window's requests beyond the contract's schemas, per window:
 * what it may scan (reach.ts: paths the user granted it through the open dialog or a drop, or
 * that the results store holds; never a network, device or automount path). `install.ts` runs
 * `check` on every validated request before relaying it; the end-to-end tests' bridge runs the
 * same class, so the page is checked as the app checks it.
 */
import { toTriageError } from '../../errors/index.js';
import type { ApiError, Envelope } from '../api/contract.js';
import { decideScanPaths, notGrantedRefusal, PathGrants } from './reach.js';
import type { PathSemantics } from './reach.js';

export interface WindowPolicyOptions {
  semantics: PathSemantics;
  /** Which of these paths the results store holds: the engine's answer (EngineLink.stored). */
  stored: (paths: string[]) => Promise<Envelope>;
}

const coded = (thrown: unknown): ApiError => {
  const error = toTriageError(thrown);
  return { code: error.code, message: error.message };
};

export class WindowPolicy {
  private readonly grants = new Map<number, PathGrants>();

  constructor(private readonly options: WindowPolicyOptions) {}

  /** Paths the user gave this window (the dialog's answer, a dropped file's path). */
  grant(windowId: number, paths: readonly string[]): void {
    let grants = this.grants.get(windowId);
    if (!grants) this.grants.set(windowId, (grants = new PathGrants(this.options.semantics)));
    grants.grant(paths);
  }

  /** The window closed: what it was granted goes with it. */
  forget(windowId: number): void {
    this.grants.delete(windowId);
  }

  /** Null when a validated request may run; else its coded refusal. */
  async check(windowId: number, channel: string, request: unknown): Promise<ApiError | null> {
    try {
      if (channel === 'scan.start') return await this.checkScan(windowId, (request as { paths: string[] }).paths);
      return null;
    } catch (thrown) {
      return coded(thrown);
    }
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
