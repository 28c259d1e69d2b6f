/**
 * Batch triage of folders, one bounded stream: walk -> identify (read, hash, sniff, in a
 * low-priority thread; see Identifier) -> bounded queue -> skip / de-duplicate -> engine (decode
 * pool workers ahead of batched inference) -> triage -> store (one transaction per image).
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
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AnalysisResult, PackRef, ScanProgress } from '../domain/index.js';
import type { Analysis, Engine, LayoutChange } from '../engine/index.js';
import { toTriageError } from '../errors/index.js';
import type { TriageError } from '../errors/index.js';
import { databaseFiles, packFingerprint, packProvenance } from '../store/index.js';
import type { ResultStore, ImageKey, PackProvenance, Within } from '../store/index.js';
import { PRIORITIES } from '../common/index.js';
import type { Priority, ScanOutcome } from '../common/index.js';
import type { TriageRules } from '../triage/index.js';
import type { Identified } from './identify.js';
import { Identifier } from './identifier.js';
import { BoundedQueue } from './queue.js';
import { countFiles, walk } from './walk.js';
import type { Candidate, WalkOptions } from './walk.js';
import type { Shard } from './shard.js';

export { walk, countFiles } from './walk.js';
export type { Candidate, WalkOptions } from './walk.js';
export { formatShard, JOB_INDEX_VARIABLE, MAX_SHARDS, parseShard, shardKey, shardOf } from './shard.js';
export type { Shard } from './shard.js';
export {
  CSV_COLUMNS,
  CSV_PATIENT_COLUMNS,
  csvCell,
  EXPORT_FORMATS,
  exportRecord,
  exportResults,
  formatFor,
  isExportFormat,
} from './export.js';
export type { ExportFormat, ExportOptions, ExportRecord, ExportRecordWithPatient } from './export.js';

/**
 * Work shared with other machines (main/archive's queue): the files come from it rather than from
 * walking the roots, and each file's outcome is recorded only while this worker still holds it.
 */
export interface WorkSource {
  /** Files claimed for this worker, as the walk would hand them; ends when no work is left anywhere. */
  candidates(signal?: AbortSignal): AsyncIterable<Candidate>;
  /**
   * Before `path` goes to the engine: true when this worker may analyse its content now; false
   * when another worker is analysing the same content (or an image with the same SOP Instance
   * UID), and the file goes back to wait for it.
   */
  claimContent(path: string, sha256: string, sopInstanceUID: string | null): boolean;
  /**
   * Run inside the transaction that records `path`'s outcome (and again if that transaction is
   * run again): throws LEASE_LOST if the file is no longer this worker's.
   */
  completion(path: string): Within;
  /** After that transaction committed, or was refused: `path` is no longer this worker's to hand back. */
  settled(path: string): void;
  /** A file finished with nothing to record (not an image, a DICOMDIR). */
  finish(path: string): void;
  /** Files claimed and not finished when the scan stops: handed back for another worker. */
  release(): void;
  summary(): WorkSummary;
}

/** What a worker did with the shared queue. */
export interface WorkSummary {
  owner: string;
  claimed: number;
  /** Outcomes refused because the lease had passed to another worker (fencing). */
  refused: number;
  /** Files handed back to wait for a copy of their content that another worker was analysing. */
  deferred: number;
  /** Files set aside after stopping workers too often (recorded as QUARANTINED errors). */
  quarantined: number;
  leaseSeconds: number;
}

export interface ScanOptions {
  roots: string[];
  /** A worker of a shared scan: files come from this queue, not from walking the roots. */
  work?: WorkSource;
  engine: Pick<Engine, 'analyze' | 'pack' | 'provider'> & Partial<Pick<Engine, 'stats'>>;
  store: ResultStore;
  rules: TriageRules;
  heatmapsDir?: string;
  /**
   * More of the product's own outputs, never read as input (the CLI's --out file). The heatmaps
   * folder and the database with its side files are left out without being named here.
   */
  exclude?: string[];
  /**
   * Files asked of the identification thread at once (default 2: it reads them one after another,
   * the next one always waiting). The engine's decode workers are the engine's own setting.
   */
  identifyAhead?: number;
  /**
   * Scan one shard of the files (`--shard i/N`): the walk yields only the files whose name hashes
   * to it (see shard.ts), and the database must hold scans of this shard only (SHARD_MISMATCH).
   */
  shard?: Shard | null;
  /** Keep polling the roots after the first pass. */
  watch?: { pollMs: number; settleMs: number } | null;
  /** Abort: stop after the engine's current batch, keeping every result written so far. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onFile?: (file: FileOutcome) => void;
  /**
   * Each analysis as the engine hands it out, awaited before the next is recorded (the CLI's
   * --dicom-out). With `heatmaps` true the engine registers every positive finding's maps for it.
   */
  onAnalysis?: (analysis: Analysis) => Promise<void>;
  heatmaps?: boolean;
}

/** A scan's progress (main/domain's ScanProgress). */
export type Progress = ScanProgress;

/** `refused`: a worker of a shared scan whose lease had passed on; its outcome was not recorded. */
export type Outcome = 'analysed' | 'duplicate' | 'unchanged' | 'skipped' | 'error' | 'refused';

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
  /** The shard this scan took (`--shard i/N`), null for every file. */
  shard: Shard | null;
  outcome: Exclude<ScanOutcome, 'failed'>;
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
  pack: Pick<PackRef, 'id' | 'version'> & { fingerprint: string };
  /** A demonstration pack (or a model marked so): its results are not for clinical use. */
  notForClinicalUse: boolean;
  seconds: number;
  imagesPerSecond: number;
  /** Where the time went (null when the engine does not report it). */
  pipeline: PipelineSummary | null;
  /** A worker of a shared scan: what it did with the queue (absent for a scan of its own). */
  work?: WorkSummary;
}

export interface PipelineSummary {
  /** The provider's CPU threads, and the decode workers, at the end. */
  threads: number;
  decodeWorkers: number;
  /** The layouts the engine changed to during this scan (see Engine's adaptive layout). */
  layoutChanges: LayoutChange[];
  /** The most files in the decode workers at once: each is one full-size image in memory. */
  maxDecoding: number;
  /** Per image the models ran on, mean milliseconds: in the decode workers, and its share of its batch's inference. */
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  /** The engine's thread, seconds: waiting for decoded images, waiting for inference, and votes, findings and heatmaps. */
  waitingForDecodeSeconds: number;
  waitingForInferenceSeconds: number;
  finishingSeconds: number;
}

/** The provenance every result of this engine carries (the engine stamps the same). */
type Item =
  | { kind: 'file'; identified: Identified; explicit: boolean }
  | { kind: 'error'; path: string; error: TriageError; stats: { size: number; mtimeMs: number } | null };

/** A file handed to the engine, and the copies of it found meanwhile (recorded once it lands). */
interface InFlight {
  identified: Identified;
  copies: Identified[];
}

interface Flight {
  byPath: Map<string, InFlight>;
  byHash: Map<string, InFlight>;
  bySop: Map<string, InFlight>;
  /** Paths met in this pass (a path named twice, e.g. by overlapping roots, is read once). */
  seen: Set<string>;
  /** The feed stopped on an interruption with files still queued. */
  cut: boolean;
}

/**
 * Stored failures that say nothing of the file: the remote provider's server was away. A scan
 * (or a worker) that meets such a file again analyses it again rather than keeping the failure.
 */
export const RETRIED_ERRORS: ReadonlySet<string> = new Set(['REMOTE_FAILED']);

/** Identified files waiting for the engine: enough to keep it fed, few enough to stay small. */
const QUEUE_CAPACITY = 64;

/**
 * Identifies candidates `ahead` at a time, handing them on in walk order; true when every
 * candidate was handed on (false: the queue was closed first).
 */
async function produce(
  candidates: AsyncIterable<Candidate>,
  queue: BoundedQueue<Item>,
  identifier: Identifier,
  ahead: number,
): Promise<boolean> {
  const window: Array<Promise<Item>> = [];
  const start = (candidate: Candidate): Promise<Item> => {
    if (candidate.kind === 'error')
      return Promise.resolve({ kind: 'error', path: candidate.path, error: candidate.error, stats: null });
    const { path, stats, explicit } = candidate;
    return identifier.identify(path, stats).then(
      (identified): Item => ({ kind: 'file', identified, explicit }),
      (error): Item => ({
        kind: 'error',
        path,
        error: toTriageError(error, path),
        stats: { size: stats.size, mtimeMs: stats.mtimeMs },
      }),
    );
  };
  try {
    for await (const candidate of candidates) {
      window.push(start(candidate));
      if (window.length >= ahead && !(await queue.push(await window.shift()!))) return false;
    }
    while (window.length > 0) if (!(await queue.push(await window.shift()!))) return false;
    return true;
  } finally {
    queue.close();
  }
}

export class Scanner {
  private readonly options: ScanOptions;
  private readonly provenance: PackProvenance;
  private readonly fingerprint: string;
  private readonly identifyAhead: number;
  /** Reads and hashes files off this thread (see Identifier); for the length of run(). */
  private readonly identifier = new Identifier();
  /** How every walk of this scan goes: DICOMDIRs read in the identification thread, outputs left out. */
  private readonly walkOptions: WalkOptions;
  private scanId = 0;
  private started = 0;
  private total: number | null = null;
  private stopped = false;
  /** Path -> size and mtime when last handed to the pipeline (watch mode compares against it). */
  private readonly known = new Map<string, { size: number; mtimeMs: number }>();
  private readonly counts = {
    files: 0,
    analysed: 0,
    unchanged: 0,
    duplicates: 0,
    skipped: 0,
    ok: 0,
    rejected: 0,
    errors: 0,
  };
  /** Sums over the images the models ran on, for the pipeline summary. */
  private readonly timing = { images: 0, decodeMs: 0, preprocessMs: 0, inferenceMs: 0 };
  private statsAtStart: Engine['stats'] | null = null;
  private queuedHighWater = 0;
  private readonly priorities = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;

  constructor(options: ScanOptions) {
    this.options = options;
    this.provenance = packProvenance(options.engine.pack);
    this.fingerprint = packFingerprint(this.provenance);
    // A shared scan's worker holds a suspect file alone until it is done (main/archive): the
    // window would wait for the next file before handing that one on.
    this.identifyAhead = options.work ? 1 : Math.max(1, options.identifyAhead ?? 2);
    this.walkOptions = {
      references: (path) => this.identifier.references(path),
      exclude: [
        ...(options.heatmapsDir ? [options.heatmapsDir] : []),
        ...databaseFiles(options.store.path),
        ...(options.exclude ?? []),
      ],
      shard: options.shard ?? null,
    };
  }

  private get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<ScanSummary> {
    const { store, engine, rules, roots } = this.options;
    this.scanId = store.beginScan({
      roots,
      provider: engine.provider,
      provenance: this.provenance,
      rulesFingerprint: rules.fingerprint,
      shard: this.options.shard ?? null,
    });
    this.started = performance.now();
    this.statsAtStart = engine.stats ?? null;
    let outcome: ScanSummary['outcome'] = 'completed';
    try {
      // Made now rather than when the first overlay is written, so that the walk knows it is there.
      if (this.options.heatmapsDir) await mkdir(this.options.heatmapsDir, { recursive: true }).catch(() => undefined);
      // A worker's total is unknown: other workers take their share of the queue meanwhile.
      const { work } = this.options;
      if (!work)
        void countFiles(roots, this.walkOptions.exclude, this.walkOptions.shard).then(
          (count) => (this.total = count),
          () => undefined,
        );
      await this.pipeline(work ? work.candidates(this.options.signal) : walk(roots, this.walkOptions));
      if (this.options.watch && !this.stopped) await this.watch(this.options.watch);
      // Watching ends with Ctrl-C: that is its normal end unless work was cut short.
      if (this.stopped) outcome = 'interrupted';
    } catch (error) {
      store.finishScan(this.scanId, 'failed', { error: toTriageError(error).message });
      throw error;
    } finally {
      this.options.work?.release();
      await this.identifier.close();
    }
    const summary = this.summary(outcome);
    store.finishScan(this.scanId, outcome, summary);
    return summary;
  }

  get id(): number {
    return this.scanId;
  }

  /** The most identified files ever waiting for the engine at once, and the bound on them. */
  get queued(): { highWater: number; capacity: number } {
    return { highWater: this.queuedHighWater, capacity: QUEUE_CAPACITY };
  }

  private summary(outcome: ScanSummary['outcome']): ScanSummary {
    const seconds = (performance.now() - this.started) / 1000;
    return {
      scanId: this.scanId,
      database: this.options.store.path,
      roots: this.options.roots,
      shard: this.options.shard ?? null,
      outcome,
      ...this.counts,
      priorities: { ...this.priorities },
      studies: this.options.store.studyCounts(),
      provider: this.options.engine.provider,
      pack: { id: this.provenance.pack.id, version: this.provenance.pack.version, fingerprint: this.fingerprint },
      notForClinicalUse: this.provenance.notForClinicalUse,
      seconds: Math.round(seconds * 1000) / 1000,
      imagesPerSecond: seconds > 0 ? Math.round((this.counts.analysed / seconds) * 100) / 100 : 0,
      pipeline: this.pipelineSummary(),
      ...(this.options.work ? { work: this.options.work.summary() } : {}),
    };
  }

  private pipelineSummary(): PipelineSummary | null {
    const end = this.options.engine.stats;
    const start = this.statsAtStart;
    if (!end || !start) return null;
    const mean = (sum: number) => (this.timing.images > 0 ? Math.round((sum / this.timing.images) * 10) / 10 : 0);
    const seconds = (ms: number) => Math.round(ms) / 1000;
    return {
      threads: end.threads,
      decodeWorkers: end.decode.workers,
      layoutChanges: end.layoutChanges.slice(start.layoutChanges.length),
      maxDecoding: end.decode.highWaterDecoding,
      decodeMs: mean(this.timing.decodeMs),
      preprocessMs: mean(this.timing.preprocessMs),
      inferenceMs: mean(this.timing.inferenceMs),
      waitingForDecodeSeconds: seconds(end.waitingForDecodeMs - start.waitingForDecodeMs),
      waitingForInferenceSeconds: seconds(end.waitingForInferenceMs - start.waitingForInferenceMs),
      finishingSeconds: seconds(end.finishingMs - start.finishingMs),
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

  /**
   * Walk output through identification, the skip and duplicate checks and the engine, as one
   * stream: every stage bounded (the identification queue, the engine's lookahead, the decode
   * pool), so a folder of any size holds a bounded number of files in memory.
   */
  private async pipeline(candidates: AsyncIterable<Candidate>): Promise<void> {
    const queue = new BoundedQueue<Item>(QUEUE_CAPACITY);
    const producing = produce(candidates, queue, this.identifier, this.identifyAhead);
    // Ctrl-C: stop identifying and feeding; the engine ends after the batch it is handing out.
    const abort = () => queue.close();
    this.options.signal?.addEventListener('abort', abort, { once: true });
    const flight: Flight = { byPath: new Map(), byHash: new Map(), bySop: new Map(), seen: new Set(), cut: false };
    try {
      // The scan keeps results, not maps: heatmaps are made only when written (the app makes an
      // image's maps again when it is opened).
      const analyses = this.options.engine.analyze(this.feed(queue, flight), {
        heatmapsDir: this.options.heatmapsDir,
        heatmaps: this.options.heatmaps ?? false,
        signal: this.options.signal,
        // The engine decodes the bytes it hashes: a file rewritten since identification fails as
        // FILE_CHANGED rather than storing one content's findings under another's fingerprint.
        expectedSha256: { get: (file) => flight.byPath.get(file)?.identified.sha256 },
      });
      for await (const analysis of analyses) {
        await this.options.onAnalysis?.(analysis);
        const entry = flight.byPath.get(analysis.result.file);
        this.finished(this.record(analysis.result, entry?.identified ?? null));
        if (entry) this.landed(entry, flight);
      }
    } finally {
      this.options.signal?.removeEventListener('abort', abort);
      queue.close();
      this.queuedHighWater = Math.max(this.queuedHighWater, queue.highWater);
      const exhausted = await producing;
      // Interrupted with work left: files not walked, not fed, or fed and not analysed.
      if (this.aborted && (flight.cut || !exhausted || !queue.done || flight.byPath.size > 0)) this.stopped = true;
    }
  }

  /**
   * The engine's source: each identified file is either recorded at once (an error, not an
   * image, unchanged, a duplicate of a stored image) or handed to the engine; a copy of a file
   * still in the engine waits for its original's result.
   */
  private async *feed(queue: BoundedQueue<Item>, flight: Flight): AsyncGenerator<string> {
    const { store } = this.options;
    for (;;) {
      const [item] = await queue.take(1, 0);
      if (this.aborted) {
        flight.cut = true;
        return;
      }
      if (!item) return;
      if (item.kind === 'error') {
        if (item.stats && this.options.watch) this.known.set(item.path, item.stats);
        this.finished(this.record(this.errorResult(item.path, item.error), null));
        continue;
      }
      const { identified, explicit } = item;
      if (this.options.watch) this.known.set(identified.path, { size: identified.size, mtimeMs: identified.mtimeMs });
      if (identified.dicomdir || (identified.format === null && !explicit) || flight.seen.has(identified.path)) {
        const first = !flight.seen.has(identified.path);
        this.finished(
          first && this.options.work
            ? this.guarded(identified.path, () => {
                this.options.work!.finish(identified.path);
                return { file: identified.path, outcome: 'skipped' };
              })
            : { file: identified.path, outcome: 'skipped' },
        );
        continue;
      }
      flight.seen.add(identified.path);
      const existing = store.lookup(identified.path);
      if (
        existing &&
        existing.sha256 === identified.sha256 &&
        existing.packFingerprint === this.fingerprint &&
        !RETRIED_ERRORS.has(existing.errorCode ?? '')
      ) {
        this.finished(this.unchanged(existing, identified));
        continue;
      }
      const pending =
        flight.byHash.get(identified.sha256) ??
        (identified.sopInstanceUID ? flight.bySop.get(identified.sopInstanceUID) : undefined);
      if (pending) {
        pending.copies.push(identified);
        continue;
      }
      let original = store.findOriginal(identified.path, identified.sha256, identified.sopInstanceUID);
      const { work } = this.options;
      if (!original && work) {
        // Another worker analysing the same content: this file goes back and waits for its result.
        if (!work.claimContent(identified.path, identified.sha256, identified.sopInstanceUID)) {
          flight.seen.delete(identified.path); // it comes back, and is not a path named twice
          continue;
        }
        // That worker may have finished between the two looks.
        original = store.findOriginal(identified.path, identified.sha256, identified.sopInstanceUID);
      }
      if (original) {
        this.finished(this.duplicate(identified, original));
        continue;
      }
      const entry: InFlight = { identified, copies: [] };
      flight.byPath.set(identified.path, entry);
      flight.byHash.set(identified.sha256, entry);
      if (identified.sopInstanceUID) flight.bySop.set(identified.sopInstanceUID, entry);
      yield identified.path;
    }
  }

  /** An original's result is stored: the copies that waited for it are recorded as its duplicates. */
  private landed(entry: InFlight, flight: Flight): void {
    const { identified } = entry;
    flight.byPath.delete(identified.path);
    if (flight.byHash.get(identified.sha256) === entry) flight.byHash.delete(identified.sha256);
    if (identified.sopInstanceUID && flight.bySop.get(identified.sopInstanceUID) === entry)
      flight.bySop.delete(identified.sopInstanceUID);
    const written = this.options.store.lookup(identified.path);
    if (!written || written.sha256 !== identified.sha256) return;
    for (const copy of entry.copies) this.finished(this.duplicate(copy, written));
  }

  /**
   * A shared scan's write for `path`, refused (rolled back, outcome `refused`) when this worker's
   * lease on it passed to another worker meanwhile; a scan of its own writes as is.
   */
  private guarded(path: string, write: (within: Within | undefined) => FileOutcome): FileOutcome {
    const { work } = this.options;
    if (!work) return write(undefined);
    try {
      const outcome = write(work.completion(path));
      work.settled(path);
      return outcome;
    } catch (error) {
      if ((error as TriageError).code !== 'LEASE_LOST') throw error;
      work.settled(path);
      return { file: path, outcome: 'refused' };
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
    if (result.status === 'ok') {
      this.timing.images++;
      this.timing.decodeMs += result.timings.decodeMs;
      this.timing.preprocessMs += result.timings.preprocessMs;
      this.timing.inferenceMs += result.timings.inferenceMs;
    }
    const priority = this.options.rules.prioritize(result);
    return this.guarded(result.file, (within) => {
      this.options.store.recordResult({
        result,
        identity: identified?.identity ?? null,
        file: { path: result.file, sha256: identified?.sha256 ?? null, size: identified?.size ?? null },
        format: identified?.format ?? null,
        priority,
        rulesFingerprint: this.options.rules.fingerprint,
        scanId: this.scanId,
        within,
      });
      return {
        file: result.file,
        outcome: result.status === 'error' && !identified ? 'error' : 'analysed',
        status: result.status,
        priority,
        code: result.error?.code,
      };
    });
  }

  /** A stored result for the same content and pack: kept, re-graded if the rules changed. */
  private unchanged(existing: ImageKey, identified: Identified): FileOutcome {
    const { store, rules } = this.options;
    if (existing.status !== 'duplicate' && existing.rulesFingerprint !== rules.fingerprint) {
      const stored = store.result(existing.id)!;
      const priority = rules.prioritize({
        status: stored.status as AnalysisResult['status'],
        findings: stored.findings,
      });
      return this.guarded(existing.path, (within) => {
        store.reprioritize(existing.id, priority, rules.fingerprint, this.scanId, identified.identity, within);
        return { file: existing.path, outcome: 'unchanged', status: existing.status, priority };
      });
    }
    return this.guarded(existing.path, (within) => {
      store.markSeen(existing.id, this.scanId, identified.identity, within);
      return { file: existing.path, outcome: 'unchanged', status: existing.status };
    });
  }

  private duplicate(identified: Identified, original: ImageKey): FileOutcome {
    return this.guarded(identified.path, (within) => {
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
        within,
      });
      return { file: identified.path, outcome: 'duplicate', status: 'duplicate', priority: null };
    });
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
      for await (const candidate of walk(this.options.roots, this.walkOptions)) {
        if (this.aborted) break;
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
      // Interrupted mid-walk: what was seen is partial, and nothing more is started.
      if (this.aborted) break;
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
