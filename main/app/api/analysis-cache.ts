/**
 * The engine's analyses of the few images being read, kept for their heatmaps: the maps of every
 * positive finding come from one analysis, and a reader flips between findings and members of
 * the same image. Each is an analysis of one content (the stored result's hash): a file analysed
 * again, with another content, is analysed anew. Least recently used first out; a failed analysis
 * is not kept.
 */
import type { Analysis } from '../../engine/index.js';

/** Images whose analysis stays cached. */
export const ANALYSIS_CACHE_SIZE = 6;

export class AnalysisCache {
  private readonly entries = new Map<string, { sha256: string | null; analysis: Promise<Analysis> }>();

  constructor(
    private readonly analyze: (file: string, sha256: string | null) => Promise<Analysis>,
    private readonly size = ANALYSIS_CACHE_SIZE,
  ) {}

  /** The analysis of a file's content: the cached one, else a new one (which then counts as the latest). */
  get(file: string, sha256: string | null = null): Promise<Analysis> {
    const cached = this.entries.get(file);
    if (cached && cached.sha256 === sha256) {
      this.entries.delete(file); // most recently used last
      this.entries.set(file, cached);
      return cached.analysis;
    }
    const entry = { sha256, analysis: this.analyze(file, sha256) };
    entry.analysis.catch(() => {
      if (this.entries.get(file) === entry) this.entries.delete(file);
    });
    this.entries.delete(file);
    this.entries.set(file, entry);
    while (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return entry.analysis;
  }

  /** Forgets a file (its analysis no longer matches its stored result). */
  delete(file: string): void {
    this.entries.delete(file);
  }

  clear(): void {
    this.entries.clear();
  }

  /** The files cached, least recently used first. */
  files(): string[] {
    return [...this.entries.keys()];
  }
}
