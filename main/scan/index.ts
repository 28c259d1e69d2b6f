/**
 * Batch triage of folders: walk -> identify (read, hash, sniff; `concurrency` files at a time)
 * -> bounded queue -> skip / de-duplicate -> engine (decode overlapping inference) -> triage ->
 * store (one transaction per image).
 *
 * Resumable: a file whose path, content hash and pack fingerprint match a stored result is not
 * analysed again; every result is committed as it comes, so a scan killed at any point and
 * started again loses nothing and duplicates nothing. A new pack (version, model hash or
 * operating point) re-analyses everything; new rules only re-grade stored findings.
 * Duplicates (the same content, or the same SOP Instance UID, at another path) are recorded as
 * such and never analysed twice. In watch mode the roots are polled after the first pass, and a
 * new or changed file is analysed once its size and modification time have stayed the same for
 * `settleMs` (a file still being copied is not read half-written).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../engine/index.js';
import type { AnalysisResult } from '../engine/result.js';
import { toTriageError } from '../errors/index.js';
import type { TriageError } from '../errors/index.js';
import type { Member } from '../packs/load.js';
import type { ModelPack } from '../packs/load.js';
import { packFingerprint, ResultStore } from '../store/index.js';
import type { ImageKey, PackProvenance } from '../store/index.js';
import { PRIORITIES } from '../triage/index.js';
import type { Priority, TriageRules } from '../triage/index.js';
import { identify } from './identify.js';
import type { Identified } from './identify.js';
import { BoundedQueue } from './queue.js';
import { countFiles, walk } from './walk.js';
import type { Candidate } from './walk.js';

export { walk, countFiles } from './walk.js';
export type { Candidate } from './walk.js';

export interface ScanOptions {
  roots: string[];
  engine: Pick<Engine, 'analyze' | 'pack' | 'provider'>;
  store: ResultStore;
  rules: TriageRules;
  heatmapsDir?: string;
  /** Files read and hashed at once, ahead of the engine (default 2). */
  concurrency?: number;
  /** The engine's batch size: an interrupted scan stops at a batch boundary (default 8). */
  batchSize?: number;
  /** Keep polling the roots after the first pass. */
  watch?: { pollMs: number; settleMs: number } | null;
  /** Abort: stop after the current batch, keeping every result written so far. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onFile?: (file: FileOutcome) => void;
}

export interface Progress {
  done: number;
  /** Files and errors to go through; null until the count has finished (or while watching). */
  total: number | null;
  /** Files per second over the scan so far. */
  rate: number;
  etaSeconds: number | null;
  analysed: number;
}

export type Outcome = 'analysed' | 'duplicate' | 'unchanged' | 'skipped' | 'error';

export interface FileOutcome {
  file: string;
  outcome: Outcome;
  status?: AnalysisResult['status'] | 'duplicate';
  priority?: Priority | null;
  code?: string;
}

export interface ScanSummary {
  scanId: number;
  database: string;
  roots: string[];
  outcome: 'completed' | 'interrupted';
  files: number;
  analysed: number;
  unchanged: number;
  duplicates: number;
  /** Not DICOM, PNG or JPEG by content (found while walking folders), or DICOMDIRs themselves. */
  skipped: number;
  ok: number;
  rejected: number;
  errors: number;
  /** Images written by this scan, by priority. */
  priorities: Record<Priority, number>;
  /** The whole worklist's studies, by priority. */
  studies: Record<Priority, number>;
  provider: string;
  pack: { id: string; version: string; fingerprint: string };
  /** A demonstration pack (or a model marked so): its results are not for clinical use. */
  notForClinicalUse: boolean;
  seconds: number;
  imagesPerSecond: number;
}

/** The provenance every result of this engine carries (the engine stamps the same). */
export function packProvenance(pack: ModelPack): PackProvenance {
  const operatingPoints = (member: Member) =>
    Object.fromEntries(member.manifest.labels.filter((l) => l.trained && l.operatingPoint !== null).map((l) => [l.name, l.operatingPoint as number]));
  return {
    pack: { id: pack.ensemble.id, version: pack.ensemble.version, rule: pack.ensemble.rule.kind, demo: pack.ensemble.demo },
    models: pack.members.map((m) => ({ id: m.manifest.id, version: m.manifest.version, sha256: m.manifest.onnx.sha256, operatingPoints: operatingPoints(m) })),
    notForClinicalUse: pack.ensemble.demo || pack.members.some((m) => m.manifest.card.notForClinicalUse),
  };
}

type Item =
  | { kind: 'file'; identified: Identified; explicit: boolean }
  | { kind: 'error'; path: string; error: TriageError; stats: { size: number; mtimeMs: number } | null };

const CHUNK_BATCHES = 16;

/** Identifies candidates `concurrency` at a time, handing them on in walk order. */
async function produce(candidates: AsyncIterable<Candidate>, queue: BoundedQueue<Item>, concurrency: number): Promise<void> {
  const window: Array<Promise<Item>> = [];
  const start = (candidate: Candidate): Promise<Item> => {
    if (candidate.kind === 'error') return Promise.resolve({ kind: 'error', path: candidate.path, error: candidate.error, stats: null });
    const { path, stats, explicit } = candidate;
    return identify(path, stats).then(
      (identified): Item => ({ kind: 'file', identified, explicit }),
      (error): Item => ({ kind: 'error', path, error: toTriageError(error, path), stats: { size: stats.size, mtimeMs: stats.mtimeMs } }),
    );
  };
  try {
    for await (const candidate of candidates) {
      window.push(start(candidate));
      if (window.length >= concurrency && !(await queue.push(await window.shift()!))) return;
    }
    while (window.length > 0) if (!(await queue.push(await window.shift()!))) return;
  } finally {
    queue.close();
  }
}

export class Scanner {
  private readonly options: ScanOptions;
  private readonly provenance: PackProvenance;
  private readonly fingerprint: string;
  private readonly batchSize: number;
  private scanId = 0;
  private started = 0;
  private total: number | null = null;
  private stopped = false;
  /** Path -> size and mtime when last handed to the pipeline (watch mode compares against it). */
  private readonly known = new Map<string, { size: number; mtimeMs: number }>();
  private readonly counts = { files: 0, analysed: 0, unchanged: 0, duplicates: 0, skipped: 0, ok: 0, rejected: 0, errors: 0 };
  private readonly priorities = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;

  constructor(options: ScanOptions) {
    this.options = options;
    this.provenance = packProvenance(options.engine.pack);
    this.fingerprint = packFingerprint(this.provenance);
    this.batchSize = options.batchSize ?? 8;
  }

  private get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<ScanSummary> {
    const { store, engine, rules, roots } = this.options;
    this.scanId = store.beginScan({ roots, provider: engine.provider, provenance: this.provenance, rulesFingerprint: rules.fingerprint });
    this.started = performance.now();
    let outcome: ScanSummary['outcome'] = 'completed';
    try {
      void countFiles(roots).then((count) => (this.total = count), () => undefined);
      await this.pipeline(walk(roots));
      if (this.options.watch && !this.stopped) await this.watch(this.options.watch);
      // Watching ends with Ctrl-C: that is its normal end unless work was cut short.
      if (this.stopped) outcome = 'interrupted';
    } catch (error) {
      store.finishScan(this.scanId, 'failed', { error: toTriageError(error).message });
      throw error;
    }
    const summary = this.summary(outcome);
    store.finishScan(this.scanId, outcome, summary);
    return summary;
  }

  get id(): number {
    return this.scanId;
  }

  private summary(outcome: ScanSummary['outcome']): ScanSummary {
    const seconds = (performance.now() - this.started) / 1000;
    return {
      scanId: this.scanId,
      database: this.options.store.path,
      roots: this.options.roots,
      outcome,
      ...this.counts,
      priorities: { ...this.priorities },
      studies: this.options.store.studyCounts(),
      provider: this.options.engine.provider,
      pack: { id: this.provenance.pack.id, version: this.provenance.pack.version, fingerprint: this.fingerprint },
      notForClinicalUse: this.provenance.notForClinicalUse,
      seconds: Math.round(seconds * 1000) / 1000,
      imagesPerSecond: seconds > 0 ? Math.round((this.counts.analysed / seconds) * 100) / 100 : 0,
    };
  }

  private progress(): void {
    const elapsed = (performance.now() - this.started) / 1000;
    const done = this.counts.files;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const total = this.total === null ? null : Math.max(this.total, done);
    this.options.onProgress?.({
      done,
      total,
      rate: Math.round(rate * 100) / 100,
      etaSeconds: total === null || rate === 0 ? null : Math.round((total - done) / rate),
      analysed: this.counts.analysed,
    });
  }

  private finished(file: FileOutcome): void {
    this.counts.files++;
    if (file.outcome === 'analysed') this.counts.analysed++;
    if (file.outcome === 'unchanged') this.counts.unchanged++;
    if (file.outcome === 'duplicate') this.counts.duplicates++;
    if (file.outcome === 'skipped') this.counts.skipped++;
    if (file.outcome === 'analysed' || file.outcome === 'error') {
      if (file.status === 'ok') this.counts.ok++;
      if (file.status === 'rejected') this.counts.rejected++;
      if (file.status === 'error') this.counts.errors++;
      if (file.priority) this.priorities[file.priority]++;
    }
    this.options.onFile?.(file);
    this.progress();
  }

  /** Walk output through identification into chunks for the engine, until done or stopped. */
  private async pipeline(candidates: AsyncIterable<Candidate>): Promise<void> {
    const chunkSize = this.batchSize * CHUNK_BATCHES;
    const queue = new BoundedQueue<Item>(chunkSize * 2);
    const producing = produce(candidates, queue, Math.max(1, this.options.concurrency ?? 2));
    try {
      while (!this.stopped) {
        if (this.aborted) {
          // Stopped between chunks: whatever is still queued or unwalked waits for the next run.
          if (!queue.done) this.stopped = true;
          break;
        }
        const chunk = await queue.take(chunkSize, 250);
        if (chunk.length === 0) break;
        await this.chunk(chunk);
      }
    } finally {
      queue.close();
      await producing;
    }
  }

  private errorResult(path: string, error: TriageError): AnalysisResult {
    return {
      file: path,
      status: 'error',
      reason: error.message,
      error: { code: error.code, message: error.message },
      sopInstanceUID: null,
      studyInstanceUID: null,
      executionProvider: this.options.engine.provider,
      pack: this.provenance.pack,
      models: this.provenance.models,
      notForClinicalUse: this.provenance.notForClinicalUse,
      notes: [],
      findings: [],
      timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, explainMs: 0 },
    };
  }

  private record(result: AnalysisResult, identified: Identified | null): FileOutcome {
    const priority = this.options.rules.prioritize(result);
    this.options.store.recordResult({
      result,
      file: { path: result.file, sha256: identified?.sha256 ?? null, size: identified?.size ?? null },
      format: identified?.format ?? null,
      priority,
      rulesFingerprint: this.options.rules.fingerprint,
      scanId: this.scanId,
    });
    return { file: result.file, outcome: result.status === 'error' && !identified ? 'error' : 'analysed', status: result.status, priority, code: result.error?.code };
  }

  /** A stored result for the same content and pack: kept, re-graded if the rules changed. */
  private unchanged(existing: ImageKey): FileOutcome {
    const { store, rules } = this.options;
    if (existing.status !== 'duplicate' && existing.rulesFingerprint !== rules.fingerprint) {
      const stored = store.result(existing.id)!;
      const priority = rules.prioritize({ status: stored.status as AnalysisResult['status'], findings: stored.findings });
      store.reprioritize(existing.id, priority, rules.fingerprint, this.scanId);
      return { file: existing.path, outcome: 'unchanged', status: existing.status, priority };
    }
    store.markSeen(existing.id, this.scanId);
    return { file: existing.path, outcome: 'unchanged', status: existing.status };
  }

  private duplicate(identified: Identified, original: ImageKey): FileOutcome {
    this.options.store.recordDuplicate({
      file: { path: identified.path, sha256: identified.sha256, size: identified.size },
      format: identified.format,
      sopInstanceUID: identified.sopInstanceUID,
      studyInstanceUID: identified.studyInstanceUID,
      original,
      provider: this.options.engine.provider,
      provenance: this.provenance,
      rulesFingerprint: this.options.rules.fingerprint,
      scanId: this.scanId,
    });
    return { file: identified.path, outcome: 'duplicate', status: 'duplicate', priority: null };
  }

  private async chunk(items: Item[]): Promise<void> {
    const { store, engine } = this.options;
    const toAnalyse: Identified[] = [];
    const byHash = new Map<string, Identified>();
    const bySop = new Map<string, Identified>();
    const paths = new Set<string>();
    const deferred: Array<{ identified: Identified; original: Identified }> = [];
    for (const item of items) {
      if (item.kind === 'error') {
        if (item.stats && this.options.watch) this.known.set(item.path, item.stats);
        this.finished(this.record(this.errorResult(item.path, item.error), null));
        continue;
      }
      const { identified, explicit } = item;
      if (this.options.watch) this.known.set(identified.path, { size: identified.size, mtimeMs: identified.mtimeMs });
      if (identified.dicomdir || (identified.format === null && !explicit) || paths.has(identified.path)) {
        this.finished({ file: identified.path, outcome: 'skipped' });
        continue;
      }
      paths.add(identified.path);
      const existing = store.lookup(identified.path);
      if (existing && existing.sha256 === identified.sha256 && existing.packFingerprint === this.fingerprint) {
        this.finished(this.unchanged(existing));
        continue;
      }
      const pending = byHash.get(identified.sha256) ?? (identified.sopInstanceUID ? bySop.get(identified.sopInstanceUID) : undefined);
      if (pending) {
        deferred.push({ identified, original: pending });
        continue;
      }
      const original = store.findOriginal(identified.path, identified.sha256, identified.sopInstanceUID);
      if (original) {
        this.finished(this.duplicate(identified, original));
        continue;
      }
      byHash.set(identified.sha256, identified);
      if (identified.sopInstanceUID) bySop.set(identified.sopInstanceUID, identified);
      toAnalyse.push(identified);
    }

    const byPath = new Map(toAnalyse.map((identified) => [identified.path, identified]));
    let index = 0;
    for await (const analysis of engine.analyze(toAnalyse.map((i) => i.path), { heatmapsDir: this.options.heatmapsDir })) {
      this.finished(this.record(analysis.result, byPath.get(analysis.result.file) ?? null));
      index++;
      // Interrupted: finish the batch whose results are out, then stop.
      if (this.aborted && index % this.batchSize === 0) {
        this.stopped = true;
        break;
      }
    }
    if (this.aborted && index < toAnalyse.length) this.stopped = true;

    for (const { identified, original } of deferred) {
      const written = store.lookup(original.path);
      // The original was not written (the scan was interrupted): the copy waits for the next run.
      if (!written || written.sha256 !== original.sha256) continue;
      this.finished(this.duplicate(identified, written));
    }
  }

  /** Polls the roots; a new or changed file goes through the pipeline once it has settled. */
  private async watch(settings: { pollMs: number; settleMs: number }): Promise<void> {
    const pending = new Map<string, { size: number; mtimeMs: number; since: number }>();
    while (!this.aborted && !this.stopped) {
      try {
        await sleep(settings.pollMs, undefined, { signal: this.options.signal });
      } catch {
        break; // aborted
      }
      const ready: Candidate[] = [];
      const present = new Set<string>();
      for await (const candidate of walk(this.options.roots)) {
        present.add(candidate.path);
        if (candidate.kind === 'error') {
          // Errors are recorded once per path until the path changes.
          if (!this.known.has(candidate.path)) {
            this.known.set(candidate.path, { size: -1, mtimeMs: -1 });
            ready.push(candidate);
          }
          continue;
        }
        const { size, mtimeMs } = candidate.stats;
        const known = this.known.get(candidate.path);
        if (known && known.size === size && known.mtimeMs === mtimeMs) {
          pending.delete(candidate.path);
          continue;
        }
        const waiting = pending.get(candidate.path);
        const now = performance.now();
        if (!waiting || waiting.size !== size || waiting.mtimeMs !== mtimeMs) {
          pending.set(candidate.path, { size, mtimeMs, since: now });
        } else if (now - waiting.since >= settings.settleMs) {
          pending.delete(candidate.path);
          ready.push(candidate);
        }
      }
      // A file removed is forgotten, so a copy made again later is picked up.
      for (const path of this.known.keys()) if (!present.has(path)) this.known.delete(path);
      for (const path of pending.keys()) if (!present.has(path)) pending.delete(path);
      if (ready.length > 0) {
        this.total = null;
        await this.pipeline(
          (async function* () {
            yield* ready;
          })(),
        );
      }
    }
  }
}

/** Runs one scan to the end (or until aborted); see Scanner. */
export async function scan(options: ScanOptions): Promise<ScanSummary> {
  return new Scanner(options).run();
}
