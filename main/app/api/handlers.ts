/**
 * The desktop app's API on the main side: one handler per contract channel, backed by the real
 * engine, the results store and the folder scanner. Plain Node (no Electron): the shell runs it in
 * its engine process and relays IPC to it; the end-to-end tests bridge it into a Chromium page.
 * Answers are structured-clonable; pixels and heatmaps are ArrayBuffers. The scan queue, the
 * heatmaps' analysis cache and the worklist's change events are their own classes beside this.
 *
 * Files: every per-image request names a file the store holds (a result of a scan the user
 * started); anything else is refused, so the window cannot make the engine read arbitrary paths.
 */
import type { Analysis, Engine } from '../../engine/index.js';
import { TriageError } from '../../errors/index.js';
import { peak } from '../../explain/index.js';
import { packFingerprint, packProvenance } from '../../store/index.js';
import type { StoredResult } from '../../domain/index.js';
import type { ResultStore } from '../../store/index.js';
import type { TriageRules } from '../../triage/index.js';
import { AnalysisCache } from './analysis-cache.js';
import type { ApiEmit, ApiHandlers, FeedbackData, ImageResultData } from './contract.js';
import { fileName } from './file-name.js';
import { NodeControl } from './node-control.js';
import { ScanQueue } from './scan-queue.js';
import { ValidationControl } from './validation-control.js';
import { WorklistChanges } from './worklist-changes.js';
import type { ChooserKind } from '../../common/index.js';

export interface ApiDeps {
  engine: Engine;
  store: ResultStore;
  /** Triage rules for scans. */
  rules: TriageRules;
  /** Pushes an event to the window. */
  emit: ApiEmit;
  /**
   * The system's open dialog: absolute paths the user picked, [] when cancelled ('labels': one
   * CSV file). Electron's dialog.showOpenDialog in the app, which grants what it answers to the
   * window; a fixed choice in tests.
   */
  chooseFiles: (kind: ChooserKind) => Promise<string[]>;
  /**
   * Opens a file in the system's viewer: the last validation's report.html (Electron's
   * shell.openPath in the main process, which checks the path again); a recorder in tests.
   */
  openReport?: (path: string) => void;
  /** The DICOM node's settings file and received folder (node-control.ts); without them, no node. */
  node?: { settingsFile: string; dataDir: string };
  /** The app's data folder, under which validations write their folders and database; without it, none. */
  validation?: { dataDir: string };
}

/** What the store holds for a path the window named, or a coded refusal. */
function requireStored(store: ResultStore, file: string): StoredResult {
  const key = store.lookup(file);
  if (!key)
    throw new TriageError('FILE_NOT_FOUND', 'This image is not in the worklist; open it or its folder first.', {
      file,
    });
  return store.result(key.id)!;
}

/** A Float32Array's values in an ArrayBuffer of their own (a view may share a larger buffer). */
function ownBuffer(array: Float32Array): ArrayBuffer {
  return array.slice().buffer as ArrayBuffer;
}

/**
 * The engine's one analysis of one file (for its heatmaps), of the content its stored result was
 * made from (`sha256`): a file that changed since is FILE_CHANGED, never analysed in its place.
 */
async function analyzeOne(engine: Engine, file: string, sha256: string | null): Promise<Analysis> {
  let found: Analysis | undefined;
  const expectedSha256 = sha256 === null ? undefined : new Map([[file, sha256]]);
  for await (const analysis of engine.analyze([file], { expectedSha256 })) found = analysis;
  if (!found) throw new TriageError('INTERNAL', 'The engine returned no analysis.', { file });
  return found;
}

export function createApiHandlers(
  deps: ApiDeps,
): ApiHandlers & { close(): Promise<void>; node: NodeControl | null; validation: ValidationControl | null } {
  const { engine, store, rules, emit } = deps;
  const provenance = packProvenance(engine.pack);
  const fingerprint = packFingerprint(provenance);
  const worklist = new WorklistChanges(store, emit);
  const scans = new ScanQueue({
    engine,
    store,
    rules,
    onProgress: (state) => emit('scan.progress', state),
    onResults: (now) => worklist.changed(now),
  });
  const analyses = new AnalysisCache((file, sha256) => analyzeOne(engine, file, sha256));
  const node = deps.node
    ? new NodeControl({
        engine,
        store,
        rules,
        emit,
        settingsFile: deps.node.settingsFile,
        dataDir: deps.node.dataDir,
        // The node triaged a study: the worklist changed, as at the end of a scan.
        onResults: () => worklist.changed(true),
      })
    : null;
  const validation = deps.validation ? new ValidationControl({ engine, emit, dataDir: deps.validation.dataDir }) : null;
  const requireValidation = (): ValidationControl => {
    if (!validation) throw new TriageError('INVALID_REQUEST', 'This window has no validation.');
    return validation;
  };
  const requireNode = (): NodeControl => {
    if (!node) throw new TriageError('INVALID_REQUEST', 'This window has no DICOM node.');
    return node;
  };

  const feedbackOf = (file: string): FeedbackData[] => store.currentVerdicts(file);

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
    gate: result.gate,
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
        scan: scans.state(),
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
        patient: study.patient,
        accessionNumber: study.accessionNumber,
        studyDate: study.studyDate,
        studyTime: study.studyTime,
        studyDescription: study.studyDescription,
        notForClinicalUse: study.images.some((image) => image.notForClinicalUse),
        reviewed: reviewed.get(study.study) ?? 0,
        images: study.images.map((image) => ({ ...image, name: fileName(image.file) })),
      }));
      return { studies, counts: store.studyCounts() };
    },

    async 'study.get'({ study }) {
      const found = store.study(study);
      if (!found || found.results.length === 0)
        throw new TriageError('FILE_NOT_FOUND', 'This study is no longer in the worklist.');
      return {
        study: found.study,
        studyInstanceUID: found.studyInstanceUID,
        priority: found.priority,
        patient: found.patient,
        accessionNumber: found.accessionNumber,
        studyDate: found.studyDate,
        studyTime: found.studyTime,
        studyDescription: found.studyDescription,
        images: found.results.map(imageResult),
      };
    },

    async 'image.render'({ file }) {
      // Decoded in a decode worker (off this process's main thread, within the file's budget),
      // and only if the file still has the content its stored result was made from.
      const stored = requireStored(store, file);
      // No fingerprint: the scan could not read the file, so nothing on record says which
      // content its entry describes; pixels read now would be shown under that entry unchecked.
      if (stored.sha256 === null)
        throw new TriageError(
          'FILE_CHANGED',
          'This file could not be read when it was scanned, so its pixels are not shown under that entry. Analyse it again.',
          { file },
        );
      return engine.render(file, stored.sha256);
    },

    async 'heatmap.get'({ file, term, tree, model }) {
      const stored = requireStored(store, file);
      if (stored.status !== 'ok')
        throw new TriageError(
          'INVALID_REQUEST',
          `This image was not analysed (${stored.status}); it has no heatmaps.`,
          { file },
        );
      if (stored.pack.fingerprint !== fingerprint) {
        throw new TriageError(
          'INVALID_REQUEST',
          `This result came from pack ${stored.pack.id} ${stored.pack.version}, not the pack loaded now (${provenance.pack.id} ${provenance.pack.version}); open the image again to re-analyse it.`,
          { file },
        );
      }
      const finding = stored.findings.find((f) => f.term === term && f.tree === tree);
      if (!finding || !finding.positive || !finding.direct) {
        throw new TriageError(
          'INVALID_REQUEST',
          `"${term}" is not a positive model finding of this image; only those have heatmaps.`,
          { file },
        );
      }
      const analysis = await analyses.get(file, stored.sha256);
      if (analysis.result.status !== 'ok') {
        analyses.delete(file);
        const error = analysis.result.error;
        throw new TriageError(
          error?.code ?? 'INVALID_REQUEST',
          `The image cannot be analysed again for its heatmap: ${error?.message ?? analysis.result.reason ?? analysis.result.status}`,
          { file },
        );
      }
      const maps = analysis.heatmaps.get(term);
      if (!maps) {
        // The stored result said positive, the engine now says not: the file changed since its scan.
        analyses.delete(file);
        throw new TriageError(
          'INVALID_REQUEST',
          `The models no longer call "${term}" on this file; it changed since it was scanned. Open it again to re-analyse it.`,
          { file },
        );
      }
      const members = Object.keys(maps.perModel);
      const heatmap = model === null ? maps.ensemble : maps.perModel[model];
      if (!heatmap) {
        throw new TriageError(
          'INVALID_REQUEST',
          `Model ${model} did not vote "${term}" positive; heatmaps exist for ${members.join(', ')}.`,
          { file },
        );
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
      const finding = stored.findings.find((f) => f.term === term && f.tree === tree);
      if (!finding) {
        throw new TriageError('INVALID_REQUEST', `"${term}" (${tree}) is not a finding of this image.`, { file });
      }
      if (!finding.assessed) {
        throw new TriageError(
          'INVALID_REQUEST',
          `"${term}" is not assessed by this pack's models: there is no call to accept or reject.`,
          { file },
        );
      }
      store.addFeedback({ file, term, tree, verdict: verdict ?? 'withdrawn' });
      worklist.changed();
      return { feedback: feedbackOf(file) };
    },

    async 'scan.start'({ paths }) {
      const accepted = await scans.start(paths);
      return { accepted, scan: scans.state() };
    },

    async 'scan.cancel'() {
      const cancelled = scans.cancel();
      return { cancelled, scan: scans.state() };
    },

    async 'dialog.open'({ kind }) {
      const paths = await deps.chooseFiles(kind);
      if (paths.length === 0) return { paths: [], scan: scans.state() };
      const accepted = await scans.start(paths);
      return { paths: accepted, scan: scans.state() };
    },

    async 'node.get'() {
      return requireNode().state();
    },

    async 'node.configure'({ settings }) {
      return requireNode().configure(settings);
    },

    async 'node.start'() {
      return requireNode().start();
    },

    async 'node.stop'() {
      return requireNode().stop();
    },

    async 'node.echo'({ destination }) {
      return requireNode().echo(destination);
    },

    async 'node.retry'({ destination }) {
      const control = requireNode();
      return { retried: control.retry(destination), node: control.state() };
    },

    async 'validation.choose'({ kind }) {
      requireValidation();
      // The dialog grants what the user picks to the window (for validation.start); nothing is scanned.
      const [path] = await deps.chooseFiles(kind === 'images' ? 'folder' : 'labels');
      return { path: path ?? null };
    },

    async 'validation.start'({ images, labels }) {
      return requireValidation().start(images, labels);
    },

    async 'validation.get'() {
      return requireValidation().state();
    },

    async 'validation.cancel'() {
      const control = requireValidation();
      return { cancelled: control.cancel(), validation: control.state() };
    },

    async 'validation.openReport'() {
      // Only the report this engine wrote: the window names no path.
      const { reportPath } = requireValidation().state();
      if (reportPath === null || !deps.openReport) return { opened: false, reportPath };
      deps.openReport(reportPath);
      return { opened: true, reportPath };
    },
  };

  return {
    ...handlers,
    /** Stops the scan (keeping what is done) and waits for it; the caller closes engine and store. */
    node,
    validation,
    async close() {
      // The node and a validation first: they analyse through the same engine.
      await node?.close();
      await validation?.close();
      await scans.close();
      worklist.close();
      analyses.clear();
    },
  };
}
