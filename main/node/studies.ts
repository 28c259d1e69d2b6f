/**
 * When a study is complete enough to triage: once no instance of it has arrived for the stable
 * period (modalities and PACS send a study's instances in a burst, and a radiograph is judged
 * with its study). Pure bookkeeping, the clock passed in, so that it is tested without waiting.
 */
export class StudyClock {
  private readonly studies = new Map<string, { paths: Set<string>; lastArrival: number }>();

  constructor(private readonly stableMs: number) {}

  arrived(studyKey: string, path: string, at: number): void {
    const study = this.studies.get(studyKey) ?? { paths: new Set<string>(), lastArrival: at };
    study.paths.add(path);
    study.lastArrival = Math.max(study.lastArrival, at);
    this.studies.set(studyKey, study);
  }

  /** Takes the studies stable at `now`: their instances, to triage; they leave the clock. */
  takeStable(now: number): { studyKey: string; paths: string[] }[] {
    const stable: { studyKey: string; paths: string[] }[] = [];
    for (const [studyKey, study] of this.studies) {
      if (now - study.lastArrival >= this.stableMs) {
        stable.push({ studyKey, paths: [...study.paths].sort() });
        this.studies.delete(studyKey);
      }
    }
    return stable;
  }

  /** When the next study becomes stable (null: none waiting). */
  nextStableAt(): number | null {
    let next: number | null = null;
    for (const study of this.studies.values()) {
      const at = study.lastArrival + this.stableMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  get waitingStudies(): number {
    return this.studies.size;
  }

  get waitingInstances(): number {
    let count = 0;
    for (const study of this.studies.values()) count += study.paths.size;
    return count;
  }
}
