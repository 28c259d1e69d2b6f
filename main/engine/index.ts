/**
 * The engine: one API over every stage, for the CLI, the desktop app and the tests alike.
 * ingest -> gate (metadata) -> preprocess (decode pool workers) -> models (inference worker) ->
 * gate (image-based) -> ensemble -> taxonomy -> explain. Its own thread only batches, votes, explains and hands results on; the
 * full-size pixels stay in the decode workers. It knows nothing of Electron.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { findingKey, isIndeterminate, logit, memberScores, reportedProbability, vote } from '../ensemble/index.js';
import type { MemberScores, Vote } from '../ensemble/index.js';
import {
  meanHeatmap,
  normalizeMap,
  registerMap,
  DEFAULT_OCCLUSION,
  occludedBatch,
  sensitivityMap,
} from '../explain/index.js';
import type { Heatmap, InputMap } from '../explain/index.js';
import { TriageError } from '../errors/index.js';
import { judgeImage } from '../gate/index.js';
import type { GateEvidence } from '../gate/index.js';
import { InferenceService, remoteModelOf } from '../inference/index.js';
import type { TensorData, ProviderChoice } from '../inference/index.js';
import type { Provider } from '../common/index.js';
import { gateFingerprint, loadPack } from '../packs/index.js';
import type { GateModel, Member, ModelPack } from '../packs/index.js';
import type { ModelInput } from '../preprocess/index.js';
import { loadTaxonomy, rollUp } from '../taxonomy/index.js';
import type { Taxonomy, TaxonomyNode } from '../taxonomy/index.js';
import { DecodePool } from './decode-pool.js';
import type { DecodeJob, DecodePoolOptions, DecodePoolStats } from './decode-pool.js';
import type { DecodedFile, DecodeOutputs } from './render.js';
import { Lookahead } from './lookahead.js';
import { LayoutTuner } from './layout.js';
import type { LayoutChange, ThreadLayout } from './layout.js';
import { log } from '../log/index.js';
import type { ImageSummary, PreparedImage } from './prepare.js';
import type { AnalysisResult, Finding, ModelProvenance, RenderedImage, Timings } from '../domain/index.js';

export type { ImageSummary } from './prepare.js';
export { chooseLayout, LayoutTuner, predictedRate } from './layout.js';
export type { LayoutChange, LayoutChoice, StageCosts, StageTotals, ThreadLayout } from './layout.js';

/** The inference session of a pack's gate model (member ids cannot hold a colon). */
function gateSessionId(id: string): string {
  return `gate:${id}`;
}

/** The outputs a gate model has: its reconstruction, its feature-space distance, or both. */
function gateOutputNames(model: GateModel): string[] {
  const { reconstruction, distance } = model.manifest.outputs;
  return [reconstruction?.name, distance?.name].filter((name): name is string => name !== undefined);
}

/**
 * An image whose model outputs are no evidence either way (NaN, infinity): neither a call nor a
 * refusal, but an error of that image alone.
 */
function inferenceFailed(result: AnalysisResult, image: Prepared, inferenceMs: number, why: string): Analysis {
  const message = `${why} for this image; it was not analysed. Run triage selftest on this workstation and report the file.`;
  return {
    result: {
      ...result,
      status: 'error',
      reason: message,
      error: { code: 'INFERENCE_FAILED', message },
      timings: { ...image.timings, inferenceMs: round(inferenceMs, 2), explainMs: 0 },
    },
    image: null,
    heatmaps: new Map(),
  };
}

/** Said in every result whose models ran on a KServe server, followed by its host and port. */
export const KSERVE_NOTE = 'the models ran on the KServe v2 server at';

/** Said in every result of a pack that declares no image-based gate. */
export const NO_IMAGE_GATE_NOTE =
  'this pack has no image-based gate: an image unlike its training data (a photograph, a rotated or inverted image) is not refused';
export { DECODE_DEADLINE_MS, WORKER_HEAP_MB } from './decode-pool.js';
export type { DecodePoolOptions } from './decode-pool.js';
export type { DecodedFile, DecodeOutputs } from './render.js';

/**
 * `triage decode`'s work on one file, in a decode worker of its own: the file's time and memory
 * budget apply, and a hostile file ends that worker, not the command.
 */
export async function decodeIsolated(
  file: string,
  outputs: DecodeOutputs,
  options: DecodePoolOptions = {},
): Promise<DecodedFile> {
  const pool = await DecodePool.start(null, 1, options);
  try {
    return await pool.decode(file, outputs);
  } finally {
    await pool.close();
  }
}

export interface EngineOptions {
  /** A pack folder (with ensemble.json). */
  models: string;
  provider?: ProviderChoice;
  /**
   * The provider's CPU threads. Default: half the cores to start with (see defaultThreads); on the
   * CPU provider, with neither this nor decodeWorkers given, the engine then chooses threads and
   * decode workers from what each stage costs per image, and again as the costs change (layout.ts).
   */
  threads?: number;
  /** Images per inference batch. */
  batchSize?: number;
  /** Decode workers (files read, decoded and preprocessed at once); default: see defaultDecodeWorkers. */
  decodeWorkers?: number;
  /**
   * The pack's image-based gate: `enforce` (default) refuses images outside its accepted ranges;
   * `measure` reports every check's score and refuses nothing (choosing thresholds, evaluating
   * a gate: never for reading radiographs).
   */
  imageGate?: 'enforce' | 'measure';
  /**
   * Chooses the layout instead of the engine's own tuner, from the layout it starts with (tests
   * and benchmarks that script the changes); it is used whatever threads and decodeWorkers say.
   */
  layoutTuner?: (initial: ThreadLayout) => Pick<LayoutTuner, 'observe'>;
}

export interface AnalyzeOptions {
  /** Write a PNG overlay per positive finding (ensemble map) here. */
  heatmapsDir?: string;
  /**
   * Register every positive finding's heatmaps onto the image (`Analysis.heatmaps`; default
   * true). A caller that keeps only the results, as a scan without `heatmapsDir` does, turns it
   * off: registering the maps was most of the engine thread's own work per image, and members
   * without a CAM output pay an occlusion run for them. With `heatmapsDir` they are always made.
   */
  heatmaps?: boolean;
  /** Stop after the batch whose results are being handed out (the files after it are not analysed). */
  signal?: AbortSignal;
  /**
   * Content hashes the files must still have (a stored result's, when the app analyses a file
   * again for its heatmaps): a file whose content differs is an error (FILE_CHANGED), not analysed.
   */
  expectedSha256?: { get(file: string): string | undefined };
}

/** Per-image, per-finding heatmaps: the ensemble's and each positive member's. */
export interface FindingHeatmaps {
  ensemble: Heatmap;
  perModel: Record<string, Heatmap>;
}

export interface Analysis {
  result: AnalysisResult;
  /** The radiograph's size, format and metadata (no pixels); null when it could not be read. */
  image: ImageSummary | null;
  heatmaps: Map<string, FindingHeatmaps>;
}

/** Where the engine's time goes and how much it holds, since it was created. */
export interface PipelineStats {
  /** The provider's CPU threads now. */
  threads: number;
  /** Whether the engine chooses its thread layout from measured costs (see EngineOptions.threads). */
  adaptiveLayout: boolean;
  /** The layouts it changed to, in order. */
  layoutChanges: LayoutChange[];
  decode: DecodePoolStats;
  /** Files handed to the decode pool and not yet yielded: the most at once, and the bound. */
  highWaterOutstanding: number;
  outstandingBound: number;
  /** The engine's thread waiting for the decode workers, and for the inference worker. */
  waitingForDecodeMs: number;
  waitingForInferenceMs: number;
  /** Votes, findings, heatmaps (and writing overlays) on the engine's thread. */
  finishingMs: number;
  images: number;
  /**
   * Each model's `session.run` time in the inference worker, summed over its batches: the
   * members in pack order, then the gate model if the pack has one.
   */
  runMs: Array<{ id: string; runMs: number }>;
}

/**
 * The provider's CPU threads by default: half the cores. On the CPU provider, inference and
 * decoding cost about the same per image (a DenseNet-121 and a 10 MB radiograph), so an even
 * split keeps both stages moving; GPU providers use CPU threads only for what they do not run.
 */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.ceil(cores / 2));
}

/**
 * Decode workers by default: with a GPU provider, every core but one (inference needs little
 * CPU); with the CPU provider, the cores its threads leave. At least one either way.
 */
export function defaultDecodeWorkers(provider: Provider, threads: number, cores = availableParallelism()): number {
  return Math.max(1, provider === 'cpu' ? cores - threads : cores - 1);
}

type RunOutputs = Array<{ outputs: Record<string, TensorData>; runMs: number }>;

interface Prepared {
  /** Position in the batch: the same file may be listed twice. */
  slot: number;
  file: string;
  image: ImageSummary;
  inputs: ModelInput[];
  notes: string[];
  timings: Timings;
}

/** A batch whose models are running: its files in order, the outcomes of those that were not analysed. */
interface Running {
  files: string[];
  early: Map<number, Analysis>;
  prepared: Prepared[];
  runs: Promise<RunOutputs>;
}

/** How long a partial batch waits for more files from a slow source (a watched folder). */
const LINGER_MS = 100;

function provenance(member: Member): ModelProvenance {
  const operatingPoints: Record<string, number> = {};
  for (const label of member.manifest.labels) {
    if (label.trained && label.operatingPoint !== null) operatingPoints[label.name] = label.operatingPoint;
  }
  return {
    id: member.manifest.id,
    version: member.manifest.version,
    sha256: member.manifest.onnx.sha256,
    operatingPoints,
  };
}

function round(value: number, digits = 4): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Files named after the image and the term, safe on every file system, with a short hash of the
 * image's full path and the term: two images with one base name (every patient's IM0001) get two
 * overlays, and an image gets the same name on every run.
 */
function heatmapFileName(file: string, term: string): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_');
  const hash = createHash('sha256').update(file).update('\0').update(term).digest('hex').slice(0, 12);
  return `${safe(basename(file))}.${hash}.${safe(term)}.png`;
}

/**
 * The terms the members declare and none was trained on (untrained heads in every member): the
 * ensemble never assesses them, and results list them as not assessed. Manifest order.
 */
function unassessedTerms(pack: ModelPack, taxonomy: Taxonomy): TaxonomyNode[] {
  const labels = pack.members.flatMap((member) => member.manifest.labels);
  const trained = new Set(labels.filter((label) => label.trained).map((label) => findingKey(label)));
  const nodes = labels.filter((label) => !trained.has(findingKey(label))).map((l) => taxonomy.require(l.term, l.tree));
  return [...new Set(nodes)];
}

export class Engine {
  readonly pack: ModelPack;
  readonly taxonomy: Taxonomy;
  private readonly unassessed: TaxonomyNode[];
  private layout: ThreadLayout;
  /** Chooses the layout from measured costs (null: the caller fixed it, or a GPU provider). */
  private tuner: Pick<LayoutTuner, 'observe'> | null;
  private readonly layoutChanges: LayoutChange[] = [];
  private readonly inference: InferenceService;
  private readonly pool: DecodePool;
  private readonly batchSize: number;
  private readonly imageGate: 'enforce' | 'measure';
  private readonly gateFingerprint: string | null;
  private readonly lookaheadCapacity: number;
  private readonly counters = {
    highWaterOutstanding: 0,
    waitingForDecodeMs: 0,
    waitingForInferenceMs: 0,
    finishingMs: 0,
    images: 0,
    runMs: [] as number[],
    /** Images the models ran on, and the sum of every model's run time over them. */
    inferredImages: 0,
    runMsTotal: 0,
  };

  private constructor(
    pack: ModelPack,
    taxonomy: Taxonomy,
    inference: InferenceService,
    pool: DecodePool,
    batchSize: number,
    layout: ThreadLayout,
    tuner: Pick<LayoutTuner, 'observe'> | null,
    imageGate: 'enforce' | 'measure',
  ) {
    this.pack = pack;
    this.imageGate = imageGate;
    this.gateFingerprint = gateFingerprint(pack);
    this.layout = layout;
    this.tuner = tuner;
    this.taxonomy = taxonomy;
    this.unassessed = unassessedTerms(pack, taxonomy);
    this.inference = inference;
    this.pool = pool;
    this.batchSize = batchSize;
    // Enough files queued in the pool to keep every worker busy while a batch runs.
    this.lookaheadCapacity = 2 * batchSize;
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const taxonomy = loadTaxonomy();
    const pack = await loadPack(options.models, (term, tree) => taxonomy.has(term, tree));
    const gateModel = pack.gate?.model ?? null;
    const plan = {
      // The members' inputs, then the gate model's (the image it must reconstruct).
      inputs: [
        ...pack.members.map((member) => member.manifest.input),
        ...(gateModel ? [gateModel.manifest.input] : []),
      ],
      // Decode only the resolution the largest model input needs (JPEG 2000 and HTJ2K can).
      shortSide: Math.max(
        ...[...pack.members, ...(gateModel ? [gateModel] : [])].map((m) =>
          Math.max(m.manifest.input.height, m.manifest.input.width),
        ),
      ),
    };
    const threads = options.threads ?? defaultThreads();
    const memberOutputs = (member: Member) => [
      member.manifest.outputs.scores.name,
      ...(member.manifest.outputs.cam ? [member.manifest.outputs.cam.name] : []),
    ];
    const inference = await InferenceService.start(
      pack.members
        .map((member) => ({
          memberId: member.manifest.id,
          onnxPath: member.onnxPath,
          inputName: member.manifest.input.name,
          outputNames: memberOutputs(member),
          remote: remoteModelOf(member.manifest, memberOutputs(member)),
        }))
        .concat(
          gateModel
            ? [
                {
                  memberId: gateSessionId(gateModel.manifest.id),
                  onnxPath: gateModel.onnxPath,
                  inputName: gateModel.manifest.input.name,
                  outputNames: gateOutputNames(gateModel),
                  remote: remoteModelOf(gateModel.manifest, gateOutputNames(gateModel)),
                },
              ]
            : [],
        ),
      options.provider ?? 'auto',
      threads,
    );
    // The provider decides how many cores decoding gets, so the pool starts once it is known.
    let pool: DecodePool;
    const decodeWorkers = options.decodeWorkers ?? defaultDecodeWorkers(inference.provider, threads);
    try {
      pool = await DecodePool.start(plan, decodeWorkers);
    } catch (error) {
      await inference.close();
      throw error;
    }
    const initial = { threads, decodeWorkers };
    const batchSize = options.batchSize ?? 8;
    const tuner = options.layoutTuner
      ? options.layoutTuner(initial)
      : inference.provider === 'cpu' && options.threads === undefined && options.decodeWorkers === undefined
        ? new LayoutTuner(initial, availableParallelism(), Math.max(16, 2 * batchSize))
        : null;
    return new Engine(pack, taxonomy, inference, pool, batchSize, initial, tuner, options.imageGate ?? 'enforce');
  }

  /** The provider's CPU threads now. */
  get threads(): number {
    return this.layout.threads;
  }

  get provider() {
    return this.inference.provider;
  }

  get providerAttempts() {
    return this.inference.attempts;
  }

  /** The KServe server's base URL when the models run there (provider kserve), else null. */
  get endpoint(): string | null {
    return this.inference.endpoint;
  }

  get stats(): PipelineStats {
    return {
      threads: this.threads,
      adaptiveLayout: this.tuner !== null,
      layoutChanges: this.layoutChanges.map((change) => ({ ...change })),
      decode: this.pool.stats,
      highWaterOutstanding: this.counters.highWaterOutstanding,
      outstandingBound: this.lookaheadCapacity + 2 * this.batchSize,
      waitingForDecodeMs: round(this.counters.waitingForDecodeMs, 1),
      waitingForInferenceMs: round(this.counters.waitingForInferenceMs, 1),
      finishingMs: round(this.counters.finishingMs, 1),
      images: this.counters.images,
      runMs: [
        ...this.pack.members.map((member) => member.manifest.id),
        ...(this.pack.gate?.model ? [gateSessionId(this.pack.gate.model.manifest.id)] : []),
      ].map((id, m) => ({ id, runMs: round(this.counters.runMs[m] ?? 0, 1) })),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.inference.close(), this.pool.close()]);
  }

  /**
   * The viewer's image of a file whose content must still be `sha256` (the hash its stored result
   * was made from; null: not checked), decoded in a decode worker within its budget, ahead of the
   * files a scan has queued.
   */
  render(file: string, sha256: string | null): Promise<RenderedImage> {
    return this.pool.render(file, sha256);
  }

  /** Where the models ran, when that is not this computer: the KServe server's host and port. */
  private get providerNotes(): string[] {
    const endpoint = this.inference.endpoint;
    return endpoint === null ? [] : [`${KSERVE_NOTE} ${new URL(endpoint).host}`];
  }

  /** A result for `file` with this engine's provenance, and the image's UIDs when it was read. */
  private base(file: string, image: ImageSummary | null = null): AnalysisResult {
    const { ensemble } = this.pack;
    return {
      file,
      status: 'ok',
      sopInstanceUID: image?.metadata.sopInstanceUID ?? null,
      studyInstanceUID: image?.metadata.studyInstanceUID ?? null,
      executionProvider: this.inference.provider,
      pack: {
        id: ensemble.id,
        version: ensemble.version,
        rule: ensemble.rule.kind,
        indeterminate: { ...ensemble.indeterminate },
        demo: ensemble.demo,
        gate: this.gateFingerprint,
      },
      models: this.pack.members.map(provenance),
      notForClinicalUse: ensemble.demo || this.pack.members.some((m) => m.manifest.card.notForClinicalUse),
      notes: [...this.providerNotes, ...(this.pack.gate ? [] : [NO_IMAGE_GATE_NOTE])],
      findings: [],
      timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, explainMs: 0 },
    };
  }

  /**
   * Analyses files in batches; yields one analysis per file, in the order given. The files (a
   * list, or a stream such as a folder scan's) go to the decode pool ahead of the batch being
   * run; while the inference worker runs batch k, the pool prepares k+1 and beyond, and this
   * thread computes the votes and heatmaps of k-1. A partial batch runs when the source pauses,
   * so a trickle of files (a watched folder) keeps moving. Stopping early (break, return, or
   * `signal` after a batch) cancels the files not yet decoded.
   */
  async *analyze(
    files: Iterable<string> | AsyncIterable<string>,
    options: AnalyzeOptions = {},
  ): AsyncGenerator<Analysis> {
    if (options.heatmapsDir) await mkdir(options.heatmapsDir, { recursive: true });
    const expected = options.expectedSha256;
    const intake = new Lookahead(files, this.pool, this.lookaheadCapacity, (file) => expected?.get(file) ?? null);
    let previous: Running | null = null;
    try {
      for (;;) {
        const jobs: DecodeJob[] = [];
        while (jobs.length < this.batchSize) {
          // Wait for the source without limit only when nothing is waiting on it.
          const job = await intake.next(jobs.length > 0 || previous ? LINGER_MS : Infinity);
          if (job) {
            jobs.push(job);
            continue;
          }
          if (jobs.length > 0 || intake.done) break;
          // The source paused with a batch running: hand its results out rather than hold them.
          const running: Running = previous!;
          previous = null;
          yield* this.complete(running, await this.outputs(running), options, intake);
          if (options.signal?.aborted) return;
        }
        if (jobs.length === 0) {
          if (previous) yield* this.complete(previous, await this.outputs(previous), options, intake);
          intake.rethrow();
          return;
        }
        const waitStarted = performance.now();
        const outcomes = await Promise.all(jobs.map((job) => job.outcome));
        this.counters.waitingForDecodeMs += performance.now() - waitStarted;
        const current = this.sort(jobs, outcomes);
        const finished = previous ? await this.outputs(previous) : null;
        current.runs =
          current.prepared.length > 0 ? this.runBatch(current.prepared) : Promise.resolve([] as RunOutputs);
        // A failure surfaces when this batch's results are awaited, not as an unhandled rejection.
        current.runs.catch(() => undefined);
        if (previous) {
          yield* this.complete(previous, finished!, options, intake);
          if (options.signal?.aborted) return;
        }
        previous = current;
      }
    } finally {
      intake.stop();
      this.counters.highWaterOutstanding = Math.max(this.counters.highWaterOutstanding, intake.highWaterOutstanding);
    }
  }

  /** The models' outputs of a running batch (the engine's thread waits for the inference worker). */
  private async outputs(running: Running): Promise<RunOutputs | TriageError> {
    if (running.prepared.length === 0) return [];
    const started = performance.now();
    let outputs: RunOutputs;
    try {
      outputs = await running.runs;
    } catch (error) {
      this.counters.waitingForInferenceMs += performance.now() - started;
      // A KServe server that failed the batch after its retries fails the batch's images, each
      // with the code, not the run: the next batch may find it back.
      if (error instanceof TriageError && error.code === 'REMOTE_FAILED') return error;
      throw error;
    }
    this.counters.waitingForInferenceMs += performance.now() - started;
    outputs.forEach((run, m) => (this.counters.runMs[m] = (this.counters.runMs[m] ?? 0) + run.runMs));
    this.counters.inferredImages += running.prepared.length;
    this.counters.runMsTotal += outputs.reduce((sum, run) => sum + run.runMs, 0);
    this.tuneLayout();
    return outputs;
  }

  /**
   * Gives the tuner this batch's totals and applies the layout it chooses: the decode pool grows or
   * shrinks at once; the sessions are rebuilt with the new thread count after the runs already
   * sent, before the next batch's.
   */
  private tuneLayout(): void {
    if (!this.tuner) return;
    const decode = this.pool.stats;
    const choice = this.tuner.observe({
      preparedFiles: decode.prepared,
      preparedCpuMs: decode.preparedCpuMs,
      inferredImages: this.counters.inferredImages,
      runMs: this.counters.runMsTotal,
    });
    if (!choice) return;
    const previous = this.layout;
    this.layout = { threads: choice.threads, decodeWorkers: choice.decodeWorkers };
    const change: LayoutChange = {
      threads: choice.threads,
      decodeWorkers: choice.decodeWorkers,
      afterImages: this.counters.images,
      costs: {
        decodeCpuMs: round(choice.costs.decodeCpuMs, 1),
        inferenceMs: round(choice.costs.inferenceMs, 1),
        threads: choice.costs.threads,
      },
      predicted: round(choice.predicted, 1),
      previousPredicted: round(choice.current, 1),
    };
    this.layoutChanges.push(change);
    log('info', 'thread-layout', { from: previous, ...change });
    if (choice.decodeWorkers !== previous.decodeWorkers) this.pool.resize(choice.decodeWorkers);
    if (choice.threads !== previous.threads)
      this.inference.setThreads(choice.threads).catch((error: Error) => {
        // The worker went back to the sessions it had: keep them, and choose no more.
        log('warn', 'thread-layout-failed', { threads: choice.threads, reason: error.message });
        this.layout = { ...this.layout, threads: previous.threads };
        this.tuner = null;
      });
  }

  /** A batch's analyses in order: the finished ones, and those the gate or an error ended early. */
  private async *complete(
    running: Running,
    outputs: RunOutputs | TriageError,
    options: AnalyzeOptions,
    intake: Lookahead,
  ): AsyncGenerator<Analysis> {
    const started = performance.now();
    const analysed =
      running.prepared.length === 0
        ? new Map<number, Analysis>()
        : outputs instanceof TriageError
          ? this.notRun(running.prepared, outputs)
          : await this.finish(running.prepared, outputs, options);
    this.counters.finishingMs += performance.now() - started;
    for (const slot of running.files.keys()) {
      intake.release(1);
      this.counters.images++;
      yield running.early.get(slot) ?? analysed.get(slot)!;
    }
  }

  /** The analyses of a batch the models could not run: each image an error with the batch's code. */
  private notRun(prepared: Prepared[], error: TriageError): Map<number, Analysis> {
    const analyses = new Map<number, Analysis>();
    for (const image of prepared) {
      const result = this.base(image.file, image.image);
      analyses.set(image.slot, {
        result: {
          ...result,
          notes: [...result.notes, ...image.notes],
          status: 'error',
          reason: error.message,
          error: { code: error.code, message: error.message },
          timings: { ...image.timings, inferenceMs: 0, explainMs: 0 },
        },
        image: null,
        heatmaps: new Map(),
      });
    }
    return analyses;
  }

  /** Splits prepared files into those for the models and those whose result is already known. */
  private sort(jobs: DecodeJob[], outcomes: PreparedImage[]): Running {
    const early = new Map<number, Analysis>();
    const prepared: Prepared[] = [];
    outcomes.forEach((outcome, slot) => {
      const file = jobs[slot].file;
      const result = this.base(file, outcome.image);
      const timings = { ...result.timings, ...outcome.timings };
      if (outcome.status === 'ok') {
        prepared.push({ slot, file, image: outcome.image, inputs: outcome.inputs, notes: outcome.notes, timings });
      } else if (outcome.status === 'rejected') {
        early.set(slot, {
          result: { ...result, status: 'rejected', reason: outcome.reason, timings },
          image: outcome.image,
          heatmaps: new Map(),
        });
      } else {
        early.set(slot, {
          result: { ...result, status: 'error', reason: outcome.error.message, error: outcome.error, timings },
          image: null,
          heatmaps: new Map(),
        });
      }
    });
    return { files: jobs.map((job) => job.file), early, prepared, runs: Promise.resolve([]) };
  }

  private async run(
    memberIndex: number,
    data: Float32Array,
    count: number,
  ): Promise<{ outputs: Record<string, TensorData>; runMs: number }> {
    const { input } = this.pack.members[memberIndex].manifest;
    return this.inference.run(this.pack.members[memberIndex].manifest.id, {
      data,
      dims: [count, input.channels, input.height, input.width],
    });
  }

  /** One batched run per member, then the gate model's; each output row belongs to one image. */
  private runBatch(prepared: Prepared[]): Promise<RunOutputs> {
    const batchOf = (m: number) => {
      const size = prepared[0].inputs[m].data.length;
      const batch = new Float32Array(size * prepared.length);
      prepared.forEach((image, i) => batch.set(image.inputs[m].data, i * size));
      return batch;
    };
    const gateModel = this.pack.gate?.model;
    return Promise.all([
      ...this.pack.members.map((_, m) => this.run(m, batchOf(m), prepared.length)),
      ...(gateModel
        ? [
            this.inference.run(gateSessionId(gateModel.manifest.id), {
              data: batchOf(this.pack.members.length),
              dims: [
                prepared.length,
                gateModel.manifest.input.channels,
                gateModel.manifest.input.height,
                gateModel.manifest.input.width,
              ],
            }),
          ]
        : []),
    ]);
  }

  /** The model (member or gate model) whose outputs for image `i` hold a NaN or infinity, or null. */
  private nonFiniteOutput(i: number, perMember: RunOutputs): string | null {
    for (const [m, member] of this.pack.members.entries()) {
      const labels = member.manifest.labels.length;
      const row = perMember[m].outputs[member.manifest.outputs.scores.name].data.subarray(i * labels, (i + 1) * labels);
      if (!row.every(Number.isFinite)) return `The model ${member.manifest.id}`;
    }
    const gateModel = this.pack.gate?.model;
    if (gateModel) {
      for (const tensor of Object.values(perMember[this.pack.members.length].outputs)) {
        const per = tensor.data.length / (tensor.dims[0] ?? 1);
        if (!tensor.data.subarray(i * per, (i + 1) * per).every(Number.isFinite))
          return `The gate model ${gateModel.manifest.id}`;
      }
    }
    return null;
  }

  /** What the image-based gate reads for image `i` of a batch. */
  private gateEvidence(i: number, image: Prepared, perMember: RunOutputs, scores: MemberScores[]): GateEvidence {
    const memberLogits = this.pack.members.map((member, m) => {
      const { scores: spec } = member.manifest.outputs;
      const row = perMember[m].outputs[spec.name].data;
      const labels = member.manifest.labels;
      return labels.flatMap((label, l) => {
        if (!label.trained) return [];
        const value = row[i * labels.length + l];
        return [spec.kind === 'logits' ? value : logit(value)];
      });
    });
    const gateModel = this.pack.gate?.model;
    let reconstruction: GateEvidence['reconstruction'] = null;
    let distance: number | null = null;
    if (gateModel) {
      const { input: spec, outputs } = gateModel.manifest;
      const gateOutputs = perMember[this.pack.members.length].outputs;
      const expectShape = (name: string, dims: number[], expected: number[]) => {
        if (dims.length !== expected.length || dims.some((d, k) => k > 0 && d !== expected[k])) {
          throw new TriageError(
            'INVALID_PACK',
            `The gate model ${gateModel.manifest.id}'s output ${name} has shape [${dims.join(', ')}]; the pack format needs [batch${expected
              .slice(1)
              .map((d) => `, ${d}`)
              .join('')}]. Fix or remove the pack's gate.`,
          );
        }
      };
      if (outputs.reconstruction) {
        const input = image.inputs[this.pack.members.length].data;
        const tensor = gateOutputs[outputs.reconstruction.name];
        expectShape(outputs.reconstruction.name, tensor.dims, [0, spec.channels, spec.height, spec.width]);
        const output = tensor.data;
        reconstruction = {
          input,
          output: output.subarray(i * input.length, (i + 1) * input.length),
          rows: spec.height,
          columns: spec.width * spec.channels,
          range: spec.normalization.kind === 'xrv' ? 2 * spec.normalization.range : 1,
        };
      }
      if (outputs.distance) {
        const tensor = gateOutputs[outputs.distance.name];
        expectShape(outputs.distance.name, tensor.dims.length === 2 ? tensor.dims : [...tensor.dims, 1], [0, 1]);
        distance = tensor.data[i];
      }
    }
    return {
      memberLogits,
      memberCalibrated: scores.map((member) => member.calibrated),
      reconstruction,
      distance,
    };
  }

  /** Votes, findings and heatmaps of a batch whose models have run. */
  private async finish(
    prepared: Prepared[],
    perMember: RunOutputs,
    options: AnalyzeOptions,
  ): Promise<Map<number, Analysis>> {
    const members = this.pack.members;
    const inferenceMs = perMember.reduce((sum, run) => sum + run.runMs, 0) / prepared.length;

    const analyses = new Map<number, Analysis>();
    const overlays: Array<Promise<void>> = [];
    for (const [i, image] of prepared.entries()) {
      const scores = members.map((member, m) => {
        const outputs = perMember[m].outputs;
        const scoresTensor = outputs[member.manifest.outputs.scores.name];
        const labels = member.manifest.labels.length;
        return memberScores(
          member.manifest,
          scoresTensor.data.subarray(i * labels, (i + 1) * labels),
          member.manifest.outputs.scores.kind,
        );
      });
      const result = this.base(image.file, image.image);
      result.notes = [...result.notes, ...image.notes];
      const broken = this.nonFiniteOutput(i, perMember);
      if (broken !== null) {
        // A NaN or infinite output is no evidence either way: neither a call nor a refusal.
        analyses.set(
          image.slot,
          inferenceFailed(result, image, inferenceMs, `${broken} gave a value that is not a number`),
        );
        continue;
      }
      if (this.pack.gate) {
        const decision = judgeImage(
          this.pack.gate.spec,
          this.gateEvidence(i, image, perMember, scores),
          this.imageGate === 'enforce',
        );
        const unscored = decision.checks.find((c) => !Number.isFinite(c.score));
        if (unscored) {
          const why = `The gate's ${unscored.check} check could not be computed`;
          analyses.set(image.slot, inferenceFailed(result, image, inferenceMs, why));
          continue;
        }
        result.gate = {
          passed: decision.passed,
          checks: decision.checks.map((c) => ({ ...c, score: round(c.score, 6) })),
        };
        if (decision.reason !== null) {
          result.status = 'rejected';
          result.reason = decision.reason;
          result.timings = { ...image.timings, inferenceMs: round(inferenceMs, 2), explainMs: 0 };
          analyses.set(image.slot, { result, image: image.image, heatmaps: new Map() });
          continue;
        }
      }
      const votes = vote(scores, this.pack.ensemble.rule);
      const explainStarted = performance.now();
      const heatmaps =
        options.heatmaps === false && !options.heatmapsDir
          ? new Map<string, FindingHeatmaps>()
          : await this.explain(
              i,
              image,
              votes,
              scores,
              perMember.map((run) => run.outputs),
            );
      result.findings = this.findings(votes);
      if (options.heatmapsDir && heatmaps.size > 0) {
        result.heatmaps = {};
        for (const [term, maps] of heatmaps) {
          const path = join(options.heatmapsDir, heatmapFileName(image.file, term));
          // Drawn and written at the image's size by a pool worker, off this thread.
          overlays.push(this.pool.writeOverlay(maps.ensemble, path));
          result.heatmaps[term] = path;
        }
      }
      result.timings = {
        ...image.timings,
        inferenceMs: round(inferenceMs, 2),
        explainMs: round(performance.now() - explainStarted, 2),
      };
      analyses.set(image.slot, { result, image: image.image, heatmaps });
    }
    // Every overlay a result names exists before the result is handed on.
    const written = await Promise.allSettled(overlays);
    const failure = written.find((outcome) => outcome.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    return analyses;
  }

  /**
   * Model votes placed in the taxonomy, rolled up so no positive child sits under a negative
   * parent, then the terms no member assesses (unless a positive term below implies them).
   */
  private findings(votes: Vote[]): Finding[] {
    const byKey = new Map(votes.map((v) => [findingKey(v), v]));
    const band = this.pack.ensemble.indeterminate;
    const nodes = rollUp(
      this.taxonomy,
      votes.map((v) => ({ term: v.term, tree: v.tree, positive: v.positive })),
    );
    const findings = nodes.map((node): Finding => {
      const evidence = byKey.get(`${node.tree}:${node.term}`);
      const probability = evidence
        ? {
            ensemble: reportedProbability(evidence.probability.ensemble),
            mean: reportedProbability(evidence.probability.mean),
            min: reportedProbability(evidence.probability.min),
            max: reportedProbability(evidence.probability.max),
          }
        : null;
      return {
        term: node.term,
        cui: node.cui,
        tree: node.tree as Finding['tree'],
        positive: node.positive,
        direct: node.direct,
        assessed: true,
        votes: evidence?.votes ?? { positive: 0, total: 0 },
        probability,
        indeterminate: probability !== null && isIndeterminate(probability.ensemble, band),
        perModel: evidence
          ? Object.fromEntries(Object.entries(evidence.perModel).map(([id, p]) => [id, reportedProbability(p)]))
          : {},
        supportedBy: node.supportedBy,
        paths: node.paths,
      };
    });
    const listed = new Set(findings.map((f) => `${f.tree}:${f.term}`));
    for (const node of this.unassessed) {
      if (listed.has(`${node.tree}:${node.term}`)) continue;
      findings.push({
        term: node.term,
        cui: node.cui,
        tree: node.tree as Finding['tree'],
        positive: false,
        direct: false,
        assessed: false,
        votes: { positive: 0, total: 0 },
        probability: null,
        indeterminate: false,
        perModel: {},
        supportedBy: [],
        paths: this.taxonomy.pathsFromRoot(node.term, node.tree),
      });
    }
    // Positive first, then by probability, the unassessed last: what a reader should look at first.
    return findings.sort(
      (a, b) =>
        Number(b.positive) - Number(a.positive) ||
        Number(b.assessed) - Number(a.assessed) ||
        (b.probability?.ensemble ?? 0) - (a.probability?.ensemble ?? 0) ||
        a.term.localeCompare(b.term),
    );
  }

  /** Heatmaps for every positive model finding: each positive member's map, and their mean. */
  private async explain(
    index: number,
    image: Prepared,
    votes: Vote[],
    scores: MemberScores[],
    outputs: Array<Record<string, TensorData>>,
  ): Promise<Map<string, FindingHeatmaps>> {
    const positives = votes.filter((v) => v.positive && v.positiveMembers.length > 0);
    const maps = new Map<string, FindingHeatmaps>();
    if (positives.length === 0) return maps;
    const occlusion = new Map<number, Float32Array>(); // member index -> calibrated probabilities per patch x label
    for (const finding of positives) {
      const perModel: Record<string, Heatmap> = {};
      for (const memberId of finding.positiveMembers) {
        const m = this.pack.members.findIndex((member) => member.manifest.id === memberId);
        const member = this.pack.members[m];
        const labelIndex = scores[m].labelIndex.get(findingKey(finding))!;
        const geometry = image.inputs[m].geometry;
        let map: InputMap;
        if (member.manifest.outputs.cam) {
          const cam = outputs[m][member.manifest.outputs.cam.name];
          const [, labels, rows, columns] = cam.dims;
          const offset = (index * labels + labelIndex) * rows * columns;
          map = { rows, columns, data: cam.data.subarray(offset, offset + rows * columns) };
        } else {
          if (!occlusion.has(m)) occlusion.set(m, await this.occlude(m, image.inputs[m].data));
          const probabilities = occlusion.get(m)!;
          const labels = member.manifest.labels.length;
          const perPatch = Float32Array.from(
            { length: probabilities.length / labels },
            (_, p) => probabilities[p * labels + labelIndex],
          );
          map = sensitivityMap(scores[m].calibrated.get(findingKey(finding))!, perPatch, DEFAULT_OCCLUSION);
        }
        perModel[memberId] = registerMap(normalizeMap(map), geometry);
      }
      maps.set(finding.term, { ensemble: meanHeatmap(Object.values(perModel)), perModel });
    }
    return maps;
  }

  /** Calibrated probabilities of every label for every occluded copy (one batched run). */
  private async occlude(memberIndex: number, input: Float32Array): Promise<Float32Array> {
    const member = this.pack.members[memberIndex];
    const { channels, height, width } = member.manifest.input;
    const batch = occludedBatch(input, channels, height, width, DEFAULT_OCCLUSION);
    const count = batch.length / input.length;
    const { outputs } = await this.run(memberIndex, batch, count);
    const raw = outputs[member.manifest.outputs.scores.name].data;
    const labels = member.manifest.labels.length;
    const calibrated = new Float32Array(raw.length);
    for (let p = 0; p < count; p++) {
      const scores = memberScores(
        member.manifest,
        raw.subarray(p * labels, (p + 1) * labels),
        member.manifest.outputs.scores.kind,
      );
      member.manifest.labels.forEach((label, l) => {
        calibrated[p * labels + l] = scores.calibrated.get(findingKey(label)) ?? 0;
      });
    }
    return calibrated;
  }
}
