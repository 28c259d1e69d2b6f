/**
 * The engine: one API over every stage, for the CLI, the desktop app and the tests alike.
 * ingest -> gate -> preprocess -> models (worker) -> ensemble -> taxonomy -> explain.
 * It knows nothing of Electron.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TriageError, toTriageError } from '../errors/index.js';
import { findingKey, memberScores, vote } from '../ensemble/index.js';
import type { MemberScores, Vote } from '../ensemble/index.js';
import { meanHeatmap, normalizeMap, registerMap } from '../explain/heatmap.js';
import type { Heatmap, InputMap } from '../explain/heatmap.js';
import { DEFAULT_OCCLUSION, occludedBatch, sensitivityMap } from '../explain/occlusion.js';
import { overlayPng } from '../explain/overlay.js';
import { gate, REJECTING_ERRORS } from '../gate/index.js';
import { InferenceService } from '../inference/service.js';
import type { TensorData } from '../inference/protocol.js';
import type { ProviderChoice } from '../inference/providers.js';
import { readRadiograph } from '../ingest/index.js';
import type { Radiograph } from '../ingest/index.js';
import { loadPack } from '../packs/load.js';
import type { Member, ModelPack } from '../packs/load.js';
import { preprocess } from '../preprocess/index.js';
import type { ModelInput } from '../preprocess/index.js';
import { loadTaxonomy, rollUp } from '../taxonomy/index.js';
import type { Taxonomy } from '../taxonomy/index.js';
import type { AnalysisResult, Finding, ModelProvenance, Timings } from './result.js';

export type { AnalysisResult, Finding } from './result.js';

export interface EngineOptions {
  /** A pack folder (with ensemble.json). */
  models: string;
  provider?: ProviderChoice;
  /** Threads for the provider (CPU); defaults to the machine's cores. */
  threads?: number;
  /** Images per inference batch. */
  batchSize?: number;
}

export interface AnalyzeOptions {
  /** Write a PNG overlay per positive finding (ensemble map) here. */
  heatmapsDir?: string;
}

/** Per-image, per-finding heatmaps: the ensemble's and each positive member's. */
export interface FindingHeatmaps {
  ensemble: Heatmap;
  perModel: Record<string, Heatmap>;
}

export interface Analysis {
  result: AnalysisResult;
  radiograph: Radiograph | null;
  heatmaps: Map<string, FindingHeatmaps>;
}

type RunOutputs = Array<{ outputs: Record<string, TensorData>; runMs: number }>;

interface Prepared {
  /** Position in the batch: the same file may be listed twice. */
  slot: number;
  file: string;
  radiograph: Radiograph;
  inputs: ModelInput[];
  notes: string[];
  timings: Timings;
}

function provenance(member: Member): ModelProvenance {
  const operatingPoints: Record<string, number> = {};
  for (const label of member.manifest.labels) {
    if (label.trained && label.operatingPoint !== null) operatingPoints[label.name] = label.operatingPoint;
  }
  return { id: member.manifest.id, version: member.manifest.version, sha256: member.manifest.onnx.sha256, operatingPoints };
}

function round(value: number, digits = 4): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Files named after the image and the term, safe on every file system. */
function heatmapFileName(file: string, term: string): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${safe(basename(file))}.${safe(term)}.png`;
}

export class Engine {
  readonly pack: ModelPack;
  readonly taxonomy: Taxonomy;
  private readonly inference: InferenceService;
  private readonly batchSize: number;
  private readonly shortSide: number;

  private constructor(pack: ModelPack, taxonomy: Taxonomy, inference: InferenceService, batchSize: number) {
    this.pack = pack;
    this.taxonomy = taxonomy;
    this.inference = inference;
    this.batchSize = batchSize;
    // Decode only the resolution the largest model input needs (JPEG 2000 and HTJ2K can).
    this.shortSide = Math.max(...pack.members.map((m) => Math.max(m.manifest.input.height, m.manifest.input.width)));
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const taxonomy = loadTaxonomy();
    const pack = await loadPack(options.models, (term, tree) => taxonomy.has(term, tree));
    const inference = await InferenceService.start(
      pack.members.map((member) => ({
        memberId: member.manifest.id,
        onnxPath: member.onnxPath,
        inputName: member.manifest.input.name,
        outputNames: [member.manifest.outputs.scores.name, ...(member.manifest.outputs.cam ? [member.manifest.outputs.cam.name] : [])],
      })),
      options.provider ?? 'auto',
      options.threads,
    );
    return new Engine(pack, taxonomy, inference, options.batchSize ?? 8);
  }

  get provider() {
    return this.inference.provider;
  }

  get providerAttempts() {
    return this.inference.attempts;
  }

  async close(): Promise<void> {
    await this.inference.close();
  }

  private base(file: string): AnalysisResult {
    const { ensemble } = this.pack;
    return {
      file,
      status: 'ok',
      sopInstanceUID: null,
      studyInstanceUID: null,
      executionProvider: this.inference.provider,
      pack: { id: ensemble.id, version: ensemble.version, rule: ensemble.rule.kind, demo: ensemble.demo },
      models: this.pack.members.map(provenance),
      notForClinicalUse: ensemble.demo || this.pack.members.some((m) => m.manifest.card.notForClinicalUse),
      notes: [],
      findings: [],
      timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, explainMs: 0 },
    };
  }

  /**
   * Analyses files in batches; yields one analysis per file, in order. While the worker runs one
   * batch, this thread decodes and preprocesses the next, so decoding hides behind inference.
   */
  async *analyze(files: string[], options: AnalyzeOptions = {}): AsyncGenerator<Analysis> {
    if (options.heatmapsDir) await mkdir(options.heatmapsDir, { recursive: true });
    // The worker always has the next batch queued: batch k+1 is decoded while k runs, and k's
    // votes and heatmaps are computed while k+1 runs.
    let previous: { batch: string[]; early: Map<number, Analysis>; prepared: Prepared[]; runs: Promise<RunOutputs> } | null = null;
    for (let start = 0; ; start += this.batchSize) {
      const batch = files.slice(start, start + this.batchSize);
      const prepared: Prepared[] = [];
      const early = new Map<number, Analysis>();
      for (const [slot, file] of batch.entries()) {
        const outcome = await this.prepare(file, slot);
        if ('result' in outcome) early.set(slot, outcome);
        else prepared.push(outcome);
      }
      const finished = previous && previous.prepared.length > 0 ? await previous.runs : null;
      const runs = prepared.length > 0 ? this.runBatch(prepared) : Promise.resolve([] as RunOutputs);
      // A failure surfaces when this batch's results are awaited, not as an unhandled rejection.
      runs.catch(() => undefined);
      if (previous) {
        const analysed = finished ? await this.finish(previous.prepared, finished, options) : new Map<number, Analysis>();
        for (const slot of previous.batch.keys()) yield previous.early.get(slot) ?? analysed.get(slot)!;
      }
      if (batch.length === 0) return;
      previous = { batch, early, prepared, runs };
    }
  }

  /** Decode, gate and preprocess one file; a rejection or an error ends it here. */
  private async prepare(file: string, slot: number): Promise<Prepared | Analysis> {
    const result = this.base(file);
    const started = performance.now();
    let radiograph: Radiograph;
    try {
      radiograph = await readRadiograph(file, { minShortSide: this.shortSide });
    } catch (thrown) {
      const error = toTriageError(thrown, file);
      result.timings.decodeMs = round(performance.now() - started, 2);
      if (REJECTING_ERRORS.has(error.code)) return { result: { ...result, status: 'rejected', reason: error.message }, radiograph: null, heatmaps: new Map() };
      return { result: { ...result, status: 'error', reason: error.message, error: { code: error.code, message: error.message } }, radiograph: null, heatmaps: new Map() };
    }
    const decodeMs = performance.now() - started;
    result.sopInstanceUID = radiograph.metadata.sopInstanceUID;
    result.studyInstanceUID = radiograph.metadata.studyInstanceUID;
    const decision = gate(radiograph);
    if (!decision.accepted) {
      return {
        result: { ...result, status: 'rejected', reason: decision.reason, timings: { ...result.timings, decodeMs: round(decodeMs, 2) } },
        radiograph,
        heatmaps: new Map(),
      };
    }
    const preprocessStarted = performance.now();
    const planes = new Map();
    const inputs = this.pack.members.map((member) => preprocess(radiograph, member.manifest.input, planes));
    return {
      slot,
      file,
      radiograph,
      inputs,
      notes: decision.notes,
      timings: { decodeMs: round(decodeMs, 2), preprocessMs: round(performance.now() - preprocessStarted, 2), inferenceMs: 0, explainMs: 0 },
    };
  }

  private async run(memberIndex: number, data: Float32Array, count: number): Promise<{ outputs: Record<string, TensorData>; runMs: number }> {
    const { input } = this.pack.members[memberIndex].manifest;
    return this.inference.run(this.pack.members[memberIndex].manifest.id, {
      data,
      dims: [count, input.channels, input.height, input.width],
    });
  }

  /** One batched run per member; each output row belongs to one image. */
  private runBatch(prepared: Prepared[]): Promise<RunOutputs> {
    return Promise.all(
      this.pack.members.map(async (member, m) => {
        const size = prepared[0].inputs[m].data.length;
        const batch = new Float32Array(size * prepared.length);
        prepared.forEach((image, i) => batch.set(image.inputs[m].data, i * size));
        return this.run(m, batch, prepared.length);
      }),
    );
  }

  /** Votes, findings and heatmaps of a batch whose models have run. */
  private async finish(prepared: Prepared[], perMember: RunOutputs, options: AnalyzeOptions): Promise<Map<number, Analysis>> {
    const members = this.pack.members;
    const inferenceMs = perMember.reduce((sum, run) => sum + run.runMs, 0) / prepared.length;

    const analyses = new Map<number, Analysis>();
    for (const [i, image] of prepared.entries()) {
      const scores = members.map((member, m) => {
        const outputs = perMember[m].outputs;
        const scoresTensor = outputs[member.manifest.outputs.scores.name];
        const labels = member.manifest.labels.length;
        return memberScores(member.manifest, scoresTensor.data.subarray(i * labels, (i + 1) * labels), member.manifest.outputs.scores.kind);
      });
      const votes = vote(scores, this.pack.ensemble.rule);
      const explainStarted = performance.now();
      const heatmaps = await this.explain(i, image, votes, scores, perMember.map((run) => run.outputs));
      const findings = this.findings(votes);
      const result = this.base(image.file);
      result.sopInstanceUID = image.radiograph.metadata.sopInstanceUID;
      result.studyInstanceUID = image.radiograph.metadata.studyInstanceUID;
      result.notes = image.notes;
      result.findings = findings;
      if (options.heatmapsDir && heatmaps.size > 0) {
        result.heatmaps = {};
        for (const [term, maps] of heatmaps) {
          const path = join(options.heatmapsDir, heatmapFileName(image.file, term));
          await writeFile(path, overlayPng(maps.ensemble)).catch((error: NodeJS.ErrnoException) => {
            throw new TriageError('OUTPUT_FAILED', `Cannot write the heatmap ${path} (${error.code ?? error.message}).`);
          });
          result.heatmaps[term] = path;
        }
      }
      result.timings = { ...image.timings, inferenceMs: round(inferenceMs, 2), explainMs: round(performance.now() - explainStarted, 2) };
      analyses.set(image.slot, { result, radiograph: image.radiograph, heatmaps });
    }
    return analyses;
  }

  /** Model votes placed in the taxonomy, rolled up so no positive child sits under a negative parent. */
  private findings(votes: Vote[]): Finding[] {
    const byKey = new Map(votes.map((v) => [findingKey(v), v]));
    const nodes = rollUp(
      this.taxonomy,
      votes.map((v) => ({ term: v.term, tree: v.tree, positive: v.positive })),
    );
    const findings = nodes.map((node): Finding => {
      const evidence = byKey.get(`${node.tree}:${node.term}`);
      return {
        term: node.term,
        cui: node.cui,
        tree: node.tree as Finding['tree'],
        positive: node.positive,
        direct: node.direct,
        votes: evidence?.votes ?? { positive: 0, total: 0 },
        probability: evidence
          ? { mean: round(evidence.probability.mean), min: round(evidence.probability.min), max: round(evidence.probability.max) }
          : null,
        perModel: evidence ? Object.fromEntries(Object.entries(evidence.perModel).map(([id, p]) => [id, round(p)])) : {},
        supportedBy: node.supportedBy,
        paths: node.paths,
      };
    });
    // Positive first, then by agreement and probability: what a reader should look at first.
    return findings.sort(
      (a, b) =>
        Number(b.positive) - Number(a.positive) ||
        (b.probability?.mean ?? 0) - (a.probability?.mean ?? 0) ||
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
          const offset = ((index * labels + labelIndex) * rows) * columns;
          map = { rows, columns, data: cam.data.subarray(offset, offset + rows * columns) };
        } else {
          if (!occlusion.has(m)) occlusion.set(m, await this.occlude(m, image.inputs[m].data));
          const probabilities = occlusion.get(m)!;
          const labels = member.manifest.labels.length;
          const perPatch = Float32Array.from({ length: probabilities.length / labels }, (_, p) => probabilities[p * labels + labelIndex]);
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
      const scores = memberScores(member.manifest, raw.subarray(p * labels, (p + 1) * labels), member.manifest.outputs.scores.kind);
      member.manifest.labels.forEach((label, l) => {
        calibrated[p * labels + l] = scores.calibrated.get(findingKey(label)) ?? 0;
      });
    }
    return calibrated;
  }
}
