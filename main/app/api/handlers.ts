/**
 * The desktop app's API on the main side: one handler per contract channel, backed by the real
 * engine, the results store and the folder scanner. Plain Node (no Electron): the shell runs it in
 * its engine process and relays IPC to it; the end-to-end tests bridge it into a Chromium page.
 * Answers are structured-clonable; pixels and heatmaps are ArrayBuffers.
 *
 * Files: every per-image request names a file the store holds (a result of a scan the user
 * started); anything else is refused, so the window cannot make the engine read arbitrary paths.
 */
import { stat } from 'node:fs/promises';
import type { Engine, Analysis } from '../../engine/index.js';
import { TriageError, toTriageError } from '../../errors/index.js';
import { readRadiograph } from '../../ingest/index.js';
import type { Radiograph } from '../../ingest/index.js';
import type { IndexedPixels } from '../../ingest/pixels/modality.js';
import { log } from '../../log/index.js';
import { peak } from '../../explain/heatmap.js';
import { Scanner, packProvenance } from '../../scan/index.js';
import type { Progress, ScanSummary } from '../../scan/index.js';
import { packFingerprint } from '../../store/index.js';
import type { ResultStore, StoredResult } from '../../store/index.js';
import type { TriageRules } from '../../triage/index.js';
import type {
  ApiEmit,
  ApiHandlers,
  FeedbackData,
  ImageResultData,
  RenderedImageData,
  ScanProgressData,
} from './contract.js';

export interface ApiDeps {
  engine: Engine;
  store: ResultStore;
  /** Triage rules for scans. */
  rules: TriageRules;
  /** Pushes an event to the window. */
  emit: ApiEmit;
  /**
   * The system's open dialog: absolute paths the user picked, [] when cancelled. Electron's
   * dialog.showOpenDialog in the app; a fixed choice in tests.
   */
  chooseFiles: (kind: 'files' | 'folder') => Promise<string[]>;
}

/** Images whose analysis (for heatmaps) stays cached. */
const HEATMAP_CACHE_SIZE = 6;
/** Minimum interval between progress events, ms. */
const PROGRESS_INTERVAL_MS = 200;

/** The file name of a path, on either platform's separators. */
export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** What the store holds for a path the window named, or a coded refusal. */
function requireStored(store: ResultStore, file: string): StoredResult {
  const key = store.lookup(file);
  if (!key) throw new TriageError('FILE_NOT_FOUND', 'This image is not in the worklist; open it or its folder first.', { file });
  return store.result(key.id)!;
}

/**
 * Stored values for the viewer: modality values back through the rescale (exact integers for
 * every DICOM; PNG and JPEG have slope 1), padding replaced by a value beyond the image's range on
 * the side that renders black (below for MONOCHROME2, above for MONOCHROME1, which is inverted).
 *
 * The stored range comes from the radiograph's modality range, with no pass of its own: float32
 * rounding, the subtraction, the division and Math.round are each monotonic, so the smallest and
 * largest stored values are those of the range's ends (swapped for a negative slope). The output
 * array is then chosen before the one pass that fills it. An indexed radiograph (grey 8 and 16-bit
 * DICOM) is read through its sample words and a per-word table of stored values, so neither its
 * float32 pixels nor its per-pixel padding mask are made.
 */
export function storedPixels(radiograph: Radiograph): Pick<RenderedImageData, 'pixels' | 'pixelType' | 'slope' | 'intercept' | 'minStored' | 'maxStored' | 'modalityRange'> {
  const { invert, range } = radiograph;
  const indexed = radiograph.indexed ?? null;
  const slope = radiograph.rescale.slope || 1;
  const intercept = radiograph.rescale.intercept;
  const toStored = (value: number) => Math.round((value - intercept) / slope);
  // The pixels hold float32 values; the range of a non-indexed DICOM was taken before that rounding.
  const low = toStored(Math.fround(range.min));
  const high = toStored(Math.fround(range.max));
  let min = slope > 0 ? low : high;
  let max = slope > 0 ? high : low;
  if (!Number.isFinite(min)) {
    min = 0; // an image that is padding only: black everywhere
    max = 0;
  }
  // Whether any pixel is padding (an indexed image's file may define a padding value it never uses).
  const padded = indexed ? hasPaddingPixel(indexed) : radiograph.padding !== null;
  let minStored = min;
  let maxStored = max;
  let black = 0;
  if (padded) {
    const gap = Math.max(1, max - min) + 1;
    black = invert ? max + gap : min - gap;
    minStored = Math.min(min, black);
    maxStored = Math.max(max, black);
  }
  const modality = (value: number) => value * slope + intercept;
  const modalityRange = { min: Math.min(modality(min), modality(max)), max: Math.max(modality(min), modality(max)) };
  let Stored: Uint16ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor;
  let pixelType: RenderedImageData['pixelType'];
  if (minStored >= 0 && maxStored <= 0xffff) {
    Stored = Uint16Array;
    pixelType = 'uint16';
  } else if (minStored >= -0x8000 && maxStored <= 0x7fff) {
    Stored = Int16Array;
    pixelType = 'int16';
  } else {
    Stored = Int32Array;
    pixelType = 'int32';
  }
  let out: Uint16Array | Int16Array | Int32Array;
  if (indexed) {
    const { words, wordMask, values, padding, length } = indexed;
    // Every word that occurs outside the padding has its stored value in [min, max], so the table's
    // type holds it; padding words hold black.
    const table = new Stored(wordMask + 1);
    for (let word = 0; word <= wordMask; word++) table[word] = padded && padding![word] ? black : toStored(values[word]);
    out = new Stored(length);
    for (let i = 0; i < length; i++) out[i] = table[words[i] & wordMask];
  } else {
    const { pixels, padding } = radiograph;
    out = new Stored(pixels.length);
    if (padding) for (let i = 0; i < pixels.length; i++) out[i] = padding[i] ? black : toStored(pixels[i]);
    else for (let i = 0; i < pixels.length; i++) out[i] = toStored(pixels[i]);
  }
  return { pixels: out.buffer as ArrayBuffer, pixelType, slope, intercept, minStored, maxStored, modalityRange };
}

/** Whether a pixel of an indexed image is padding: stops at the first (in the first rows, as a rule). */
function hasPaddingPixel({ words, wordMask, padding, length }: IndexedPixels): boolean {
  if (!padding) return false;
  for (let i = 0; i < length; i++) if (padding[words[i] & wordMask]) return true;
  return false;
}

/** A Float32Array's values in an ArrayBuffer of their own (a view may share a larger buffer). */
function ownBuffer(array: Float32Array | Uint16Array): ArrayBuffer {
  return array.slice().buffer as ArrayBuffer;
}

interface ScanJob {
  roots: string[];
}

export function createApiHandlers(deps: ApiDeps): ApiHandlers & { close(): Promise<void> } {
  const { engine, store, rules, emit } = deps;
  const provenance = packProvenance(engine.pack);
  const fingerprint = packFingerprint(provenance);

  // ---- scans: one at a time, later requests queued behind it
  const queue: ScanJob[] = [];
  let running: { controller: AbortController; done: Promise<void> } | null = null;
  let progress: Progress = { done: 0, total: null, rate: 0, etaSeconds: null, analysed: 0 };
  /** The running scan's roots, or the last scan's when none runs. */
  let lastRoots: string[] = [];
  let last: ScanProgressData['last'] = null;
  let lastProgressAt = 0;
  let progressTimer: NodeJS.Timeout | null = null;
  let worklistTimer: NodeJS.Timeout | null = null;

  const scanState = (): ScanProgressData => ({
    running: running !== null,
    roots: lastRoots,
    queued: queue.map((job) => job.roots),
    done: progress.done,
    total: progress.total,
    rate: progress.rate,
    etaSeconds: progress.etaSeconds,
    analysed: progress.analysed,
    last,
  });

  const emitProgress = (force = false) => {
    const now = performance.now();
    if (progressTimer) {
      clearTimeout(progressTimer);
      progressTimer = null;
    }
    if (force || now - lastProgressAt >= PROGRESS_INTERVAL_MS) {
      lastProgressAt = now;
      emit('scan.progress', scanState());
    } else {
      // The latest state always goes out, a little later: the window never shows a stale count.
      progressTimer = setTimeout(() => emitProgress(true), PROGRESS_INTERVAL_MS - (now - lastProgressAt));
    }
  };

  const worklistChanged = (now = false) => {
    const send = () => {
      worklistTimer = null;
      // The worklist's studies (those with an image that is not a duplicate), counted in one query.
      const counts = Object.values(store.studyCounts());
      emit('worklist.changed', { studies: counts.reduce((sum, n) => sum + n, 0) });
    };
    if (now) {
      if (worklistTimer) clearTimeout(worklistTimer);
      send();
    } else if (!worklistTimer) {
      worklistTimer = setTimeout(send, 400);
    }
  };

  const runNext = () => {
    const job = queue.shift();
    if (!job) return;
    const controller = new AbortController();
    progress = { done: 0, total: null, rate: 0, etaSeconds: null, analysed: 0 };
    lastRoots = job.roots;
    const scanner = new Scanner({
      roots: job.roots,
      engine,
      store,
      rules,
      signal: controller.signal,
      onProgress: (next) => {
        progress = next;
        emitProgress();
      },
      onFile: (file) => {
        if (file.outcome !== 'skipped') worklistChanged();
      },
    });
    const started = performance.now();
    const done = scanner.run().then(
      (summary: ScanSummary) => {
        last = {
          outcome: summary.outcome,
          files: summary.files,
          analysed: summary.analysed,
          errors: summary.errors,
          rejected: summary.rejected,
          seconds: summary.seconds,
          error: null,
        };
      },
      (thrown: unknown) => {
        const error = toTriageError(thrown);
        log('error', 'app-scan-failed', { code: error.code, message: error.message });
        last = {
          outcome: 'failed',
          files: progress.done,
          analysed: progress.analysed,
          errors: 0,
          rejected: 0,
          seconds: Math.round(performance.now() - started) / 1000,
          error: { code: error.code, message: error.message },
        };
      },
    );
    running = { controller, done };
    emitProgress(true);
    void done.then(() => {
      running = null;
      emitProgress(true);
      worklistChanged(true);
      runNext();
    });
  };

  const startScan = async (paths: string[]): Promise<string[]> => {
    // A path that does not exist is a mistake to report now, not a result to store.
    for (const path of paths) {
      try {
        await stat(path);
      } catch {
        throw new TriageError('FILE_NOT_FOUND', `${fileName(path)} does not exist or cannot be opened.`, { file: path });
      }
    }
    const roots = [...new Set(paths)];
    queue.push({ roots });
    if (!running) runNext();
    else emitProgress(true);
    return roots;
  };

  // ---- heatmaps: the engine's analysis of one image, cached for the few images being read
  const analyses = new Map<string, Promise<Analysis>>();
  const analysisOf = (file: string): Promise<Analysis> => {
    const cached = analyses.get(file);
    if (cached) {
      analyses.delete(file); // most recently used last
      analyses.set(file, cached);
      return cached;
    }
    const pending = (async () => {
      let found: Analysis | undefined;
      for await (const analysis of engine.analyze([file])) found = analysis;
      if (!found) throw new TriageError('INTERNAL', 'The engine returned no analysis.', { file });
      return found;
    })();
    pending.catch(() => analyses.delete(file));
    analyses.set(file, pending);
    while (analyses.size > HEATMAP_CACHE_SIZE) analyses.delete(analyses.keys().next().value!);
    return pending;
  };

  const feedbackOf = (file: string): FeedbackData[] =>
    store.currentVerdicts(file).map((v) => ({ term: v.term, tree: v.tree as FeedbackData['tree'], verdict: v.verdict, at: v.createdAt }));

  const imageResult = (result: StoredResult): ImageResultData => ({
    file: result.file,
    name: fileName(result.file),
    status: result.status,
    reason: result.reason,
    error: result.error,
    duplicateOf: result.duplicateOf,
    sopInstanceUID: result.sopInstanceUID,
    priority: result.priority,
    executionProvider: result.executionProvider,
    pack: result.pack,
    models: result.models,
    notForClinicalUse: result.notForClinicalUse,
    notes: result.notes,
    findings: result.findings,
    feedback: feedbackOf(result.file),
    heatmaps: result.status === 'ok' && result.pack.fingerprint === fingerprint,
    scannedAt: result.scannedAt,
  });

  const handlers: ApiHandlers = {
    async 'status.get'() {
      const { ensemble, members } = engine.pack;
      return {
        provider: engine.provider,
        device: engine.provider === 'cpu' ? 'CPU' : 'GPU',
        providerAttempts: engine.providerAttempts.map((a) => ({ provider: a.provider, reason: a.reason })),
        pack: {
          id: ensemble.id,
          name: ensemble.name,
          version: ensemble.version,
          rule: ensemble.rule.kind,
          demo: ensemble.demo,
          notForClinicalUse: provenance.notForClinicalUse,
          members: members.map((m) => ({
            id: m.manifest.id,
            name: m.manifest.name,
            version: m.manifest.version,
            architecture: m.manifest.architecture,
            sha256: m.manifest.onnx.sha256,
            notForClinicalUse: m.manifest.card.notForClinicalUse,
          })),
        },
        notForClinicalUse: provenance.notForClinicalUse,
        database: store.path,
        taxonomy: 'PadChest',
        scan: scanState(),
      };
    },

    async 'worklist.list'() {
      const reviewed = store.reviewedCounts();
      const studies = store.worklist().map((study) => ({
        study: study.study,
        studyInstanceUID: study.studyInstanceUID,
        priority: study.priority,
        firstSeenAt: study.firstSeenAt,
        updatedAt: study.updatedAt,
        notForClinicalUse: study.images.some((image) => image.notForClinicalUse),
        reviewed: reviewed.get(study.study) ?? 0,
        images: study.images.map((image) => ({ ...image, name: fileName(image.file) })),
      }));
      return { studies, counts: store.studyCounts() };
    },

    async 'study.get'({ study }) {
      const found = store.study(study);
      if (!found || found.results.length === 0) throw new TriageError('FILE_NOT_FOUND', 'This study is no longer in the worklist.');
      return { study: found.study, studyInstanceUID: found.studyInstanceUID, priority: found.priority, images: found.results.map(imageResult) };
    },

    async 'image.render'({ file }) {
      requireStored(store, file);
      const started = performance.now();
      const radiograph = await readRadiograph(file);
      const decodeMs = Math.round((performance.now() - started) * 10) / 10;
      const { metadata } = radiograph;
      return {
        file,
        rows: radiograph.rows,
        columns: radiograph.columns,
        ...storedPixels(radiograph),
        window: { ...radiograph.window },
        voiLut: radiograph.voiLut
          ? { firstMapped: radiograph.voiLut.firstMapped, bitsPerEntry: radiograph.voiLut.bitsPerEntry, data: ownBuffer(radiograph.voiLut.data) }
          : null,
        invert: radiograph.invert,
        photometric: radiograph.photometric,
        bitsStored: radiograph.bitsStored,
        pixelSpacing: metadata.pixelSpacing,
        format: radiograph.format,
        transferSyntax: radiograph.transferSyntax?.name ?? null,
        modality: metadata.modality,
        viewPosition: metadata.viewPosition,
        decodeMs,
      };
    },

    async 'heatmap.get'({ file, term, tree, model }) {
      const stored = requireStored(store, file);
      if (stored.status !== 'ok') throw new TriageError('INVALID_REQUEST', `This image was not analysed (${stored.status}); it has no heatmaps.`, { file });
      if (stored.pack.fingerprint !== fingerprint) {
        throw new TriageError(
          'INVALID_REQUEST',
          `This result came from pack ${stored.pack.id} ${stored.pack.version}, not the pack loaded now (${provenance.pack.id} ${provenance.pack.version}); open the image again to re-analyse it.`,
          { file },
        );
      }
      const finding = stored.findings.find((f) => f.term === term && f.tree === tree);
      if (!finding || !finding.positive || !finding.direct) {
        throw new TriageError('INVALID_REQUEST', `"${term}" is not a positive model finding of this image; only those have heatmaps.`, { file });
      }
      const analysis = await analysisOf(file);
      if (analysis.result.status !== 'ok') {
        analyses.delete(file);
        const error = analysis.result.error;
        throw new TriageError(error?.code ?? 'INVALID_REQUEST', `The image cannot be analysed again for its heatmap: ${error?.message ?? analysis.result.reason ?? analysis.result.status}`, { file });
      }
      const maps = analysis.heatmaps.get(term);
      if (!maps) {
        // The stored result said positive, the engine now says not: the file changed since its scan.
        analyses.delete(file);
        throw new TriageError('INVALID_REQUEST', `The models no longer call "${term}" on this file; it changed since it was scanned. Open it again to re-analyse it.`, { file });
      }
      const members = Object.keys(maps.perModel);
      const heatmap = model === null ? maps.ensemble : maps.perModel[model];
      if (!heatmap) {
        throw new TriageError('INVALID_REQUEST', `Model ${model} did not vote "${term}" positive; heatmaps exist for ${members.join(', ')}.`, { file });
      }
      return {
        file,
        term,
        tree,
        model,
        members,
        rows: heatmap.rows,
        columns: heatmap.columns,
        scale: heatmap.scale,
        imageRows: heatmap.imageRows,
        imageColumns: heatmap.imageColumns,
        data: ownBuffer(heatmap.data),
        peak: peak(heatmap),
      };
    },

    async 'feedback.set'({ file, term, tree, verdict }) {
      const stored = requireStored(store, file);
      if (!stored.findings.some((f) => f.term === term && f.tree === tree)) {
        throw new TriageError('INVALID_REQUEST', `"${term}" (${tree}) is not a finding of this image.`, { file });
      }
      store.addFeedback({ file, term, tree, verdict: verdict ?? 'withdrawn' });
      worklistChanged();
      return { feedback: feedbackOf(file) };
    },

    async 'scan.start'({ paths }) {
      const accepted = await startScan(paths);
      return { accepted, scan: scanState() };
    },

    async 'scan.cancel'() {
      const cancelled = running !== null || queue.length > 0;
      queue.length = 0;
      running?.controller.abort();
      emitProgress(true);
      return { cancelled, scan: scanState() };
    },

    async 'dialog.open'({ kind }) {
      const paths = await deps.chooseFiles(kind);
      if (paths.length === 0) return { paths: [], scan: scanState() };
      const accepted = await startScan(paths);
      return { paths: accepted, scan: scanState() };
    },
  };

  return {
    ...handlers,
    /** Stops the scan (keeping what is done) and waits for it; the caller closes engine and store. */
    async close() {
      queue.length = 0;
      const current = running;
      current?.controller.abort();
      await current?.done;
      if (progressTimer) clearTimeout(progressTimer);
      if (worklistTimer) clearTimeout(worklistTimer);
      analyses.clear();
    },
  };
}
