/**
 * The demonstration pack's evidence: phantoms of a generator seed that nothing else used (config
 * split `evidence`) through the product's own Engine on the CPU, exactly as `triage analyze` runs
 * them, with the validation split run the same way for the members' raw scores (to choose their
 * best-F1 operating points). Stores the per-image outputs with the pack and computes every figure
 * from them (evidence.ts), with 95 % cluster-bootstrap intervals.
 *
 * usage: node dist/models/training/evaluate.js --validation DIR --data DIR --pack models/packs/demo
 *          [--threads N] [--limit N] [--resamples B] [--no-update]
 *
 * Each DIR is the generator's output (DICOM images, labels.csv, masks/, phantoms.json). Per image:
 *   - the Engine's result: each finding's positive votes and the majority's decision, and the
 *     heatmaps of the ensemble-positive findings, whose peaks are tested against the ground-truth
 *     masks (the pointing game: inside the mask at the image's pixels, no tolerance; and within one
 *     CAM cell, for reference);
 *   - each member's raw outputs (every label's logit, untrained heads included, and the CAMs), run
 *     on the same preprocessed input by the same ONNX runtime (main/selftest memberOutputs): the
 *     member votes they imply (the product's calibration) must be the Engine's, vote for vote, and
 *     each CAM must average to its logit (the pack format's promise, as triage selftest checks).
 * Writes PACK/evidence/{validation,evidence}-outputs.json and, unless --no-update, PACK/evaluation.json,
 * each member's card.metrics.evidence and PACK/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism, release } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../main/engine/index.js';
import type { Analysis } from '../../main/engine/index.js';
import {
  ensembleProbability,
  findingKey,
  memberScores,
  reportedProbability,
  sigmoid,
} from '../../main/ensemble/index.js';
import { peak } from '../../main/explain/index.js';
import { decodePng } from '../../main/ingest/index.js';
import { ENSEMBLE_FILE, MANIFEST_FILE, MemberManifestSchema } from '../../main/packs/index.js';
import type { MemberManifest, ModelPack } from '../../main/packs/index.js';
import { CAM_TOLERANCE, camGaps, memberOutputs } from '../../main/selftest/index.js';
import { loadTaxonomy, ROOT_TREES } from '../../main/taxonomy/index.js';
import { computeFigures } from './evidence.js';
import type {
  CallFigures,
  EvidenceOutputs,
  EvidenceRow,
  Figures,
  Interval,
  ModelFigures,
  OutputsHeader,
  PointingEntry,
  ValidationOutputs,
  ValidationRow,
} from './evidence.js';
import { pointInMask } from './metrics.js';
import type { Mask } from './metrics.js';
import { loadConfig, readLabels, ROOT } from './prepare-dataset.js';

const FEATURE_STRIDE = 8;
/** The bootstrap's fixed seed (mulberry32) and number of resamples. */
export const BOOTSTRAP = { resamples: 2000, seed: 20261207 };
export const EVIDENCE_DIR = 'evidence';
export const OUTPUT_FILES = { validation: 'validation-outputs.json', evidence: 'evidence-outputs.json' } as const;

/** The mask of one finding on one image: masks/<term with dashes>/<image stem>.png. */
function maskPath(dir: string, term: string, file: string): string | null {
  const folder = join(dir, 'masks', term.replace(/ /g, '-'));
  for (const name of [`${basename(file, extname(file))}.png`, `${basename(file)}.png`]) {
    const path = join(folder, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function loadMask(path: string): Mask {
  const png = decodePng(readFileSync(path));
  return { width: png.width, height: png.height, data: png.values };
}

function fmt(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined ? '-' : value.toFixed(digits);
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

/** The generator's description of a split: its seed, and each image's patient. */
function readSplit(dir: string, terms: string[], limit: number | null) {
  const phantoms = JSON.parse(readFileSync(join(dir, 'phantoms.json'), 'utf8')) as {
    seed: number;
    count: number;
    size: number | null;
    format: string;
    /** Present only when not the generator's default (standard). */
    nodules?: string;
    images: Array<{ file: string; patient: { id: string } }>;
  };
  let { files, labels } = readLabels(join(dir, 'labels.csv'), terms);
  if (limit !== null) {
    files = files.slice(0, limit);
    labels = labels.slice(0, limit);
  }
  const patientOf = new Map(phantoms.images.map((image) => [image.file, image.patient.id]));
  const patients = files.map((file) => {
    const id = patientOf.get(file);
    if (!id) throw new Error(`${dir}/phantoms.json does not list ${file}`);
    return id;
  });
  const generator = `triage phantom --count ${phantoms.count} --seed ${phantoms.seed} --format ${phantoms.format}${phantoms.size ? ` --size ${phantoms.size}` : ''}${phantoms.nodules ? ` --nodules ${phantoms.nodules}` : ''}`;
  return { seed: phantoms.seed, files, labels, patients, generator };
}

interface SplitRun {
  rows: EvidenceRow[];
  engineSeconds: number;
  outputsSeconds: number;
  largestCamGap: number;
  rolledUpMismatches: number;
}

/**
 * One split through the Engine, then through the members' own outputs; the rows with every
 * consistency check between the two applied.
 */
async function runSplit(
  engine: Engine,
  pack: ModelPack,
  dir: string,
  split: ReturnType<typeof readSplit>,
  terms: string[],
  threads: number,
  pointing: boolean,
): Promise<SplitRun> {
  const taxonomy = loadTaxonomy();
  const paths = split.files.map((file) => join(dir, file));
  const members = pack.members.map((member) => member.manifest);
  const config = loadConfig();

  // 1. The Engine, as triage analyze runs it.
  const analyses: Array<Pick<Analysis, 'result'> & { pointing: PointingEntry[] }> = [];
  let started = performance.now();
  for await (const analysis of engine.analyze(paths, { heatmaps: pointing })) {
    const index = analyses.length;
    const file = split.files[index];
    const { result, heatmaps } = analysis;
    if (result.status !== 'ok') throw new Error(`${file}: ${result.status} (${result.reason ?? ''})`);
    const entries: PointingEntry[] = [];
    if (pointing) {
      for (const [k, term] of terms.entries()) {
        const finding = result.findings.find((f) => f.tree === 'finding' && f.term === term && f.direct);
        if (!finding?.positive || !split.labels[index][k]) continue;
        const maps = heatmaps.get(term);
        const path = maskPath(dir, term, file);
        if (!maps || !path) throw new Error(`${file}: no ${maps ? 'mask' : 'heatmap'} for the true positive "${term}"`);
        const mask = loadMask(path);
        const { imageRows, imageColumns } = maps.ensemble;
        const cell = (Math.min(imageRows, imageColumns) * FEATURE_STRIDE) / config.input.width;
        const hit = (heatmap: typeof maps.ensemble, tolerance = 0) => {
          const point = peak(heatmap);
          return pointInMask(mask, point.x, point.y, imageColumns, imageRows, tolerance) ? 1 : 0;
        };
        entries.push({
          term,
          ensemble: hit(maps.ensemble),
          withinCell: hit(maps.ensemble, cell),
          members: Object.fromEntries(Object.entries(maps.perModel).map(([id, map]) => [id, hit(map)])),
        });
      }
    }
    analyses.push({ result, pointing: entries });
    if (analyses.length % 200 === 0) console.log(`  engine: ${analyses.length}/${paths.length}`);
  }
  const engineSeconds = (performance.now() - started) / 1000;

  // 2. The members' own outputs on the same preprocessed inputs.
  started = performance.now();
  const rows: EvidenceRow[] = [];
  let largestCamGap = 0;
  let rolledUpMismatches = 0;
  let index = 0;
  for await (const image of memberOutputs(pack, paths, { provider: 'cpu', threads, batchSize: 16, cam: true })) {
    const file = split.files[index];
    const { result } = analyses[index];
    const logits: Record<string, number[]> = {};
    const shippedCalls: Record<string, number[]> = {};
    const calibrated: Record<string, Array<number | null>> = {};
    for (const manifest of members) {
      const output = image.members[manifest.id];
      for (const gap of camGaps(output.scores, output.cam!, manifest.outputs.scores.kind)) {
        largestCamGap = Math.max(largestCamGap, gap.difference);
        if (!(gap.difference <= gap.allowed))
          throw new Error(
            `${file}: ${manifest.id}'s CAM for ${terms[gap.label]} averages ${gap.mean}, its logit is ${gap.logit}`,
          );
      }
      logits[manifest.id] = Array.from(output.scores);
      // The product's own calibration: a member votes for a trained label at calibrated >= 0.5.
      const scores = memberScores(manifest, output.scores, manifest.outputs.scores.kind);
      calibrated[manifest.id] = manifest.labels.map((label) => scores.calibrated.get(findingKey(label)) ?? null);
      shippedCalls[manifest.id] = calibrated[manifest.id].map((value) => (value !== null && value >= 0.5 ? 1 : 0));
    }
    const ensembleCalls: number[] = [];
    const ensembleScore: number[] = [];
    for (const [k, term] of terms.entries()) {
      const finding = result.findings.find((f) => f.tree === 'finding' && f.term === term && f.direct);
      const voters = members.filter((manifest) => calibrated[manifest.id][k] !== null);
      const votes = voters.filter((manifest) => shippedCalls[manifest.id][k] === 1).length;
      if (voters.length === 0) {
        if (finding) throw new Error(`${file}: the Engine votes on "${term}", which no member has trained`);
        ensembleCalls.push(0);
        // Not assessed by the product; for the AUC over all 7, the pack's rule on the raw heads.
        const raw = members.map((m) => sigmoid(logits[m.id][k]));
        const mean = raw.reduce((sum, v) => sum + v, 0) / raw.length;
        ensembleScore.push(round4(ensembleProbability(pack.ensemble.rule, raw, mean)));
        continue;
      }
      if (!finding) throw new Error(`${file}: the Engine has no vote on "${term}"`);
      if (finding.votes.positive !== votes || finding.votes.total !== voters.length)
        throw new Error(
          `${file}, ${term}: the Engine counted ${finding.votes.positive} of ${finding.votes.total} votes, the members' outputs give ${votes} of ${voters.length}`,
        );
      if (finding.positive !== votes * 2 > voters.length)
        throw new Error(`${file}, ${term}: the Engine's decision is not the majority of the votes`);
      ensembleCalls.push(finding.positive ? 1 : 0);
      // The number the product shows beside the call (the rule's order statistic of the members').
      const values = voters.map((m) => calibrated[m.id][k]!);
      const expectedScore = reportedProbability(
        ensembleProbability(pack.ensemble.rule, values, values.reduce((sum, v) => sum + v, 0) / values.length),
      );
      // The members' outputs here come from their own runs: equal to the Engine's up to float rounding.
      if (finding.probability === null || Math.abs(finding.probability.ensemble - expectedScore) > 2e-4)
        throw new Error(
          `${file}, ${term}: the Engine reports ${finding.probability?.ensemble}, the members' outputs give ${expectedScore}`,
        );
      ensembleScore.push(finding.probability.ensemble);
    }
    // The product's roll-up is what the hierarchical F1 assumes: positives plus their ancestors.
    const expected = new Set(
      terms.filter((_, k) => ensembleCalls[k]).flatMap((term) => [term, ...taxonomy.ancestors(term, 'finding')]),
    );
    const reported = new Set(result.findings.filter((f) => f.tree === 'finding' && f.positive).map((f) => f.term));
    if (expected.size !== reported.size || [...expected].some((term) => !reported.has(term))) rolledUpMismatches++;
    rows.push({
      file,
      patient: split.patients[index],
      truth: split.labels[index],
      logits,
      shippedCalls,
      ensembleCalls,
      ensembleScore,
      pointing: analyses[index].pointing,
    });
    index++;
    if (index % 200 === 0) console.log(`  outputs: ${index}/${paths.length}`);
  }
  const outputsSeconds = (performance.now() - started) / 1000;
  return { rows, engineSeconds, outputsSeconds, largestCamGap, rolledUpMismatches };
}

/** JSON with the header fields one a line and each row on one line: readable, diffable, small. */
function writeOutputs(path: string, header: object, rows: object[]): void {
  const head = JSON.stringify(header, null, 2).replace(/\n}$/, '');
  writeFileSync(
    path,
    `${head},\n  "rows": [\n${rows.map((row) => `    ${JSON.stringify(row)}`).join(',\n')}\n  ]\n}\n`,
  );
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const onnxruntime = JSON.parse(
    readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'),
  ) as { version: string };
  return `${cpu}, ${availableParallelism()} cores, Linux ${release()}, Node ${process.version}, onnxruntime-node ${onnxruntime.version} (CPU provider)`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      validation: { type: 'string' },
      data: { type: 'string' },
      pack: { type: 'string' },
      limit: { type: 'string' },
      threads: { type: 'string' },
      resamples: { type: 'string' },
      'no-update': { type: 'boolean', default: false },
      render: { type: 'boolean', default: false },
    },
  });
  if (values.render && values.pack) {
    // The cards and README again from evaluation.json, without running anything.
    const packDir = resolve(values.pack);
    const evaluation = JSON.parse(readFileSync(join(packDir, 'evaluation.json'), 'utf8')) as Evaluation;
    const ensemble = JSON.parse(readFileSync(join(packDir, ENSEMBLE_FILE), 'utf8')) as { members: string[] };
    publish(
      packDir,
      evaluation,
      ensemble.members,
      loadConfig().labels.map((label) => label.term),
    );
    return;
  }
  if (!values.validation || !values.data || !values.pack)
    throw new Error(
      'usage: evaluate.ts --validation DIR --data DIR --pack PACK [--threads N] [--limit N] [--resamples B] [--no-update]\n' +
        '       evaluate.ts --pack PACK --render   (the cards and README again from PACK/evaluation.json)',
    );
  const started = performance.now();
  const validationDir = resolve(values.validation);
  const dataDir = resolve(values.data);
  const packDir = resolve(values.pack);
  const config = loadConfig();
  const terms = config.labels.map((label) => label.term);
  const limit = values.limit ? Number(values.limit) : null;
  const threads = values.threads ? Number(values.threads) : Math.min(2, availableParallelism());
  const plan = { ...BOOTSTRAP, resamples: values.resamples ? Number(values.resamples) : BOOTSTRAP.resamples };
  const validationSplit = readSplit(validationDir, terms, limit);
  const evidenceSplit = readSplit(dataDir, terms, limit);
  const complete = limit === null && plan.resamples === BOOTSTRAP.resamples;
  for (const [name, split] of [
    ['validation', validationSplit],
    ['evidence', evidenceSplit],
  ] as const) {
    if (split.seed !== config.splits[name].seed || split.files.length !== config.splits[name].count) {
      const message = `${name}: ${split.files.length} phantoms of seed ${split.seed}, not config.json's ${config.splits[name].count} of seed ${config.splits[name].seed}`;
      if (!values['no-update']) throw new Error(`${message}: run with --no-update`);
      console.warn(`warning: ${message}`);
    }
  }
  if (!complete && !values['no-update']) throw new Error('--limit and --resamples are for trials: add --no-update');

  // The classifiers' evidence covers every phantom: the image-based gate measures only here
  // (evaluate-gate.ts measures the gate itself).
  const engine = await Engine.create({
    models: packDir,
    provider: 'cpu',
    threads,
    batchSize: 16,
    imageGate: 'measure',
  });
  let validationRun: SplitRun;
  let evidenceRun: SplitRun;
  const pack = engine.pack;
  try {
    console.log(`validation (seed ${validationSplit.seed}): ${validationSplit.files.length} phantoms`);
    validationRun = await runSplit(engine, pack, validationDir, validationSplit, terms, threads, false);
    console.log(`evidence (seed ${evidenceSplit.seed}): ${evidenceSplit.files.length} phantoms`);
    evidenceRun = await runSplit(engine, pack, dataDir, evidenceSplit, terms, threads, true);
  } finally {
    await engine.close();
  }
  const memberIds = pack.members.map((member) => member.manifest.id);
  const manifests = Object.fromEntries(pack.members.map((member) => [member.manifest.id, member.manifest]));
  const taxonomy = loadTaxonomy();
  const root = Object.keys(ROOT_TREES).find((term) => ROOT_TREES[term] === 'finding')!;

  const header = (name: 'validation' | 'evidence', split: ReturnType<typeof readSplit>): OutputsHeader => ({
    split: name,
    seed: split.seed,
    images: split.files.length,
    patients: new Set(split.patients).size,
    generator: split.generator,
    labels: terms,
    members: memberIds,
    trained: Object.fromEntries(memberIds.map((id) => [id, manifests[id].labels.map((label) => label.trained)])),
    note:
      name === 'validation'
        ? 'Raw outputs (logits) of each member on the validation split, from which the best-F1 operating points are chosen. Written by models/training/evaluate.ts.'
        : "Per image: ground truth, each member's logits and its votes at the shipped operating points, the ensemble's decisions and scores as the Engine made them, and for each ensemble-positive true finding whether the heatmap peaks fell in the mask. Written by models/training/evaluate.ts.",
  });
  const validation: ValidationOutputs = {
    ...header('validation', validationSplit),
    rows: validationRun.rows.map(({ file, patient, truth, logits }): ValidationRow => ({
      file,
      patient,
      truth,
      logits,
    })),
  };
  const evidence: EvidenceOutputs = {
    ...header('evidence', evidenceSplit),
    shippedOperatingPoints: Object.fromEntries(
      memberIds.map((id) => [id, manifests[id].labels.map((label) => (label.trained ? label.operatingPoint : null))]),
    ),
    ancestors: Object.fromEntries(terms.map((term) => [term, [...taxonomy.ancestors(term, 'finding')]])),
    root,
    rows: evidenceRun.rows,
  };
  const figuresStarted = performance.now();
  const figures = computeFigures(validation, evidence, plan);
  const figuresSeconds = (performance.now() - figuresStarted) / 1000;

  const outputsDir = join(packDir, EVIDENCE_DIR);
  if (complete) {
    mkdirSync(outputsDir, { recursive: true });
    const { rows: validationRows, ...validationHeader } = validation;
    const { rows: evidenceRows, ...evidenceHeader } = evidence;
    writeOutputs(join(outputsDir, OUTPUT_FILES.validation), validationHeader, validationRows);
    writeOutputs(join(outputsDir, OUTPUT_FILES.evidence), evidenceHeader, evidenceRows);
  }

  const prevalence = Object.fromEntries(
    terms.map((term, k) => [term, evidence.rows.filter((row) => row.truth[k]).length / evidence.rows.length]),
  );
  const seconds = (value: number) => Math.round(value * 10) / 10;
  const evaluation = {
    pack: { id: pack.ensemble.id, version: pack.ensemble.version, rule: pack.ensemble.rule },
    date: new Date().toISOString().slice(0, 10),
    machine: machine(),
    command: `node ${relative(ROOT, process.argv[1])} ${process.argv
      .slice(2)
      .map((arg) => (arg.startsWith(`${ROOT}/`) ? relative(ROOT, arg) : arg))
      .join(' ')}`,
    seconds: {
      validation: {
        engine: seconds(validationRun.engineSeconds),
        memberOutputs: seconds(validationRun.outputsSeconds),
      },
      evidence: { engine: seconds(evidenceRun.engineSeconds), memberOutputs: seconds(evidenceRun.outputsSeconds) },
      figures: seconds(figuresSeconds),
      total: seconds((performance.now() - started) / 1000),
    },
    data: {
      validation: {
        seed: validation.seed,
        images: validation.images,
        patients: validation.patients,
        generator: validation.generator,
        use: config.splits.validation.use,
      },
      evidence: {
        seed: evidence.seed,
        images: evidence.images,
        patients: evidence.patients,
        generator: evidence.generator,
        use: config.splits.evidence.use,
        prevalence,
      },
    },
    files: {
      validation: `${EVIDENCE_DIR}/${OUTPUT_FILES.validation}`,
      evidence: `${EVIDENCE_DIR}/${OUTPUT_FILES.evidence}`,
      recompute: 'python3 models/training/recompute_evidence.py (scikit-learn; prints the same figures)',
    },
    bootstrap: {
      unit: 'patient (each phantom patient is one study of 1 to 3 images; a resample draws patients with replacement and keeps all their images)',
      resamples: plan.resamples,
      seed: plan.seed,
      prng: 'mulberry32; patient index floor(u x patients), patients in order of first appearance',
      interval:
        '95 % percentile interval: of the B sorted resample values, the order statistics floor(25 B / 1000) and ceil(975 B / 1000) - 1 (0-based: the 51st and the 1950th of 2,000)',
    },
    method: {
      microF1:
        'over the 7 findings and every image, 2tp / (2tp + fp + fn). Ensemble: its majority vote as shipped. Members: at their shipped operating points (Youden on validation), and at their own best-F1 operating points (per finding, chosen on the validation split alone). Heads shipped untrained (nodule) never vote in either, so nodule positives are misses throughout.',
      hierarchicalF1: `true and predicted finding sets extended with their ancestors in the PadChest finding tree, without the root ('${root}'), micro-averaged`,
      auc: "Mann-Whitney with ties counted half, for all 7 findings: members on their logits (the untrained nodule head included, as it scores); the ensemble on the ensemble probability the Engine reports beside each call (4 decimals; majority: the members' median calibrated value), for nodule (which no member trained and the Engine reports as not assessed) the median of the members' sigmoid(logit); meanAuc: the mean over the 7",
      pointingGame:
        "ensemble-positive, truly present findings: a hit when the peak of the ensemble's heatmap (original image pixels) lies inside the ground-truth mask, no tolerance. Members: their own maps, on those findings they voted for. The heatmaps were trained towards the masks (train.py's localisation loss on the training split), so this measures that training as much as localisation; cardiomegaly's mask is the whole heart, which the peak almost always hits, hence the figure without it.",
      differences: 'ensemble minus member on the same resamples (paired)',
    },
    consistency: {
      engineVotes:
        "every member vote implied by the member's own logits (the product's calibration) equals the Engine's vote count, and the Engine's decision is their majority, on every image of both splits",
      rolledUpMismatches: validationRun.rolledUpMismatches + evidenceRun.rolledUpMismatches,
      largestCamGap: Math.max(validationRun.largestCamGap, evidenceRun.largestCamGap),
      camTolerance: `${CAM_TOLERANCE} x max(1, |logit|)`,
    },
    figures,
  };
  printTable(evaluation.figures, memberIds, terms, evidence.seed, evidence.images);
  console.log(
    `largest |mean(CAM) - logit| ${evaluation.consistency.largestCamGap.toExponential(1)}; roll-up mismatches ${evaluation.consistency.rolledUpMismatches}; ${evaluation.seconds.total} s`,
  );
  if (values['no-update']) return;
  writeFileSync(join(packDir, 'evaluation.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
  publish(packDir, evaluation, memberIds, terms);
}

/** Each member's card.metrics.evidence (4 decimals) and the pack's README, from the evaluation. */
function publish(packDir: string, evaluation: Evaluation, memberIds: string[], terms: string[]): void {
  const { figures } = evaluation;
  const pair = (i: Interval) => ({ value: round4(i.value), ci95: [round4(i.low), round4(i.high)] });
  for (const id of memberIds) {
    const path = join(packDir, id, MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as MemberManifest;
    const m = figures.members[id];
    const { test: _old, ...kept } = manifest.card.metrics as Record<string, unknown>;
    manifest.card.metrics = {
      ...kept,
      evidence: {
        seed: evaluation.data.evidence.seed,
        images: evaluation.data.evidence.images,
        note: "Held-out phantoms (a seed used for nothing else) through the product's Engine; value and 95 % patient-bootstrap interval. Full figures: the pack's evaluation.json.",
        auc: Object.fromEntries(terms.map((term) => [term, pair(m.auc[term])])),
        meanAuc7: pair(m.meanAuc),
        microF1Shipped: pair(m.shipped.microF1),
        microF1BestF1: pair(m.bestF1.microF1),
        hierarchicalF1NoRootShipped: pair(m.shipped.hierarchicalF1),
        pointingGame: pair(m.pointing.all),
        pointingGameWithoutCardiomegaly: pair(m.pointing.withoutCardiomegaly),
        ensembleMicroF1: pair(figures.ensemble.microF1),
      },
    };
    MemberManifestSchema.parse(manifest);
    writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  writeFileSync(join(packDir, 'README.md'), readme(packDir, evaluation, memberIds, terms));
  console.log(`wrote the members' card metrics and README.md in ${packDir}`);
}

function printTable(figures: Figures, memberIds: string[], terms: string[], seed: number, images: number): void {
  const ci = (i: Interval) => `${fmt(i.value)} [${fmt(i.low)}, ${fmt(i.high)}]`;
  console.log(`\nevidence: ${images} phantoms (seed ${seed}), 95 % patient-bootstrap intervals`);
  const line = (name: string, calls: CallFigures, model: ModelFigures) =>
    console.log(
      `${name.padEnd(22)} microF1 ${ci(calls.microF1)}  hF1 ${ci(calls.hierarchicalF1)}  meanAUC7 ${ci(model.meanAuc)}  pointing ${ci(model.pointing.all)} / w/o card ${ci(model.pointing.withoutCardiomegaly)}`,
    );
  line('ensemble', figures.ensemble, figures.ensemble);
  for (const id of memberIds) {
    line(`${id} best-F1`, figures.members[id].bestF1, figures.members[id]);
    line(`${id} shipped`, figures.members[id].shipped, figures.members[id]);
  }
  for (const id of memberIds)
    console.log(
      `ensemble - ${id}: microF1 vs best-F1 ${ci(figures.differences[id].microF1VsBestF1)}, vs shipped ${ci(figures.differences[id].microF1VsShipped)}`,
    );
  console.log(`AUC ensemble: ${terms.map((t) => `${t} ${ci(figures.ensemble.auc[t])}`).join('; ')}`);
}

interface TrainingReport {
  threads: number;
  device?: string;
  torch?: string;
  data: Record<string, { seed: number | number[]; count: number }>;
  members: Record<
    string,
    {
      parameters: number;
      seed: number;
      onnxBytes: number;
      bootstrap: { size: number; distinct: number };
      epochsRun: number;
      bestEpoch: number;
      trainSeconds: number;
      validationShippedMicroF1?: number;
      validation: { meanAuc: number; microF1: number; perLabel: Record<string, { auc: number | null }> };
    }
  >;
  ensembleValidation?: {
    microF1: number;
    meanAuc: number;
    perLabelAuc: Record<string, number | null>;
    minTrainedAuc?: number;
  };
}

interface Evaluation {
  date: string;
  machine: string;
  command: string;
  seconds: { total: number; evidence: { engine: number } };
  data: {
    validation: { seed: number; images: number };
    evidence: { seed: number; images: number; patients: number; prevalence: Record<string, number> };
  };
  bootstrap: { resamples: number; seed: number };
  figures: Figures;
}

function words(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** What the paired intervals say about the ensemble against each member, in words. */
function verdicts(figures: Figures, memberIds: string[]): string[] {
  const side = (i: Interval) => (i.low > 0 ? 'better' : i.high < 0 ? 'worse' : 'not shown different');
  const group = (key: 'microF1VsBestF1' | 'microF1VsShipped') => {
    const by = (verdict: string) => memberIds.filter((id) => side(figures.differences[id][key]) === verdict);
    return (['better', 'worse', 'not shown different'] as const)
      .filter((verdict) => by(verdict).length > 0)
      .map((verdict) => `${verdict} than ${words(by(verdict))}`)
      .join(', ');
  };
  return [
    `On micro-F1 the majority vote is ${group('microF1VsShipped')} at the members' shipped operating points, and`,
    `${group('microF1VsBestF1')} at the members' own best-F1 points (an interval that excludes 0 decides).`,
  ];
}

function readme(packDir: string, evaluation: Evaluation, memberIds: string[], terms: string[]): string {
  const ensemble = JSON.parse(readFileSync(join(packDir, ENSEMBLE_FILE), 'utf8')) as { name: string; version: string };
  const trainingPath = join(packDir, 'training.json');
  const training = existsSync(trainingPath) ? (JSON.parse(readFileSync(trainingPath, 'utf8')) as TrainingReport) : null;
  const manifests = Object.fromEntries(
    memberIds.map((id) => [id, JSON.parse(readFileSync(join(packDir, id, MANIFEST_FILE), 'utf8')) as MemberManifest]),
  );
  const { figures, data } = evaluation;
  const ci = (i: Interval) => `${fmt(i.value)} (${fmt(i.low)} to ${fmt(i.high)})`;
  const signed = (i: Interval) => {
    const s = (v: number) => `${v >= 0 ? '+' : '−'}${fmt(Math.abs(v))}`;
    return `${s(i.value)} (${s(i.low)} to ${s(i.high)})`;
  };
  const untrained = terms.filter((term) =>
    memberIds.every((id) => !manifests[id].labels.find((l) => l.term === term)?.trained),
  );
  const lines = [
    `# ${ensemble.name}`,
    '',
    '> **Not for clinical use.** A demonstration pack (`demo: true`): trained and tested only on synthetic',
    "> phantoms made by the project's own generator. It has never seen a real radiograph; its findings on one",
    '> are meaningless. The workstation labels every result it produces as not for clinical use.',
    '',
    `Version ${ensemble.version}. Members \`${memberIds.join('`, `')}\`, voting rule: majority (a finding is positive when at`,
    'least two of the three members call it). This file is written by `models/training/evaluate.ts`; the whole pack is',
    'rebuilt by `models/training/build-demo-pack.sh` (how: `models/training/README.md`).',
    '',
    '## Members',
    '',
    '| member | architecture | parameters | ONNX | seed | bootstrap sample (distinct images) | epochs (best) | training |',
    '|---|---|---|---|---|---|---|---|',
    ...memberIds.map((id) => {
      const t = training?.members[id];
      return `| \`${id}\` | ${manifests[id].architecture} | ${t?.parameters ?? '-'} | ${t ? (t.onnxBytes / 1e6).toFixed(2) + ' MB' : '-'} | ${t?.seed ?? '-'} | ${t ? `${t.bootstrap.size} (${t.bootstrap.distinct})` : '-'} | ${t ? `${t.epochsRun} (${t.bestEpoch})` : '-'} | ${t ? (t.trainSeconds / 60).toFixed(1) + ' min' : '-'} |`;
    }),
    '',
    'Input (all members): 1 x 224 x 224, the display rendering (VOI window, bone bright), centre square crop, area',
    'resize, TorchXRayVision normalisation to [-1024, 1024]. Outputs: `scores` (logits) and `cam` (7 x 28 x 28, the',
    'classifier applied to the ReLU features, bias included, so that its mean over the cells is the logit; `triage',
    'selftest` checks that on the bundled phantoms, and evaluate.ts on every image below). Shipped operating points: per',
    "finding, the threshold that maximises Youden's J on the validation split.",
    '',
    '## Data',
    '',
    `- training: ${training?.data.train?.count ?? '-'} phantoms, generator seeds ${training?.data.train?.seed ?? '-'}; each member trains on its own bootstrap sample`,
    `- validation: ${data.validation.images} phantoms, seed ${data.validation.seed}: early stopping, the shipped operating points, which heads ship trained, and (here) the members' best-F1 operating points`,
    '- seed 3003: the first test split; what it showed changed the training (the localisation loss, the masking of',
    '  untrained heads), so it is no longer held out and no figure here comes from it',
    `- evidence: ${data.evidence.images} phantoms (${data.evidence.patients} patients), seed ${data.evidence.seed}, generated for this evaluation and used for nothing else`,
    `- evidence prevalence: ${terms.map((term) => `${term} ${(100 * data.evidence.prevalence[term]).toFixed(1)} %`).join(', ')}`,
    '',
  ];
  if (training) {
    lines.push(
      '## Validation (printed by train.py)',
      '',
      'The validation split also chose the operating points and which heads ship trained, so its F1 is optimistic.',
      'AUC of every head as trained; micro-F1 with the untrained heads masked, as the product runs them.',
      '',
      `| model | ${terms.join(' | ')} | mean AUC | micro-F1 |`,
      `|---|${terms.map(() => '---|').join('')}---|---|`,
      ...memberIds.map((id) => {
        const v = training.members[id].validation;
        return `| ${id} | ${terms.map((term) => fmt(v.perLabel[term]?.auc)).join(' | ')} | ${fmt(v.meanAuc)} | ${fmt(training.members[id].validationShippedMicroF1 ?? v.microF1)} |`;
      }),
    );
    if (training.ensembleValidation) {
      const v = training.ensembleValidation;
      lines.push(
        `| ensemble | ${terms.map((term) => fmt(v.perLabelAuc[term])).join(' | ')} | ${fmt(v.meanAuc)} | ${fmt(v.microF1)} |`,
      );
    }
    const trainedOn =
      !training.device || training.device === 'cpu' ? `${training.threads} CPU threads` : training.device;
    lines.push(
      '',
      `Training (each member in its own process): ${memberIds.map((id) => `${id} ${(training.members[id].trainSeconds / 60).toFixed(1)} min`).join(', ')}, on ${trainedOn}${training.torch ? ` with torch ${training.torch}` : ''}.`,
      '',
    );
  }
  const e = figures.ensemble;
  lines.push(
    `## Evidence (seed ${data.evidence.seed}, the product's Engine on the CPU)`,
    '',
    `${data.evidence.images} phantoms of a seed used for nothing else, through the product's Engine (CPU provider) as \`triage`,
    `analyze\` runs them. Each figure with its 95 % interval from ${evaluation.bootstrap.resamples} bootstrap resamples of patients (seed`,
    `${evaluation.bootstrap.seed}). Measured ${evaluation.date} on ${evaluation.machine}: \`${evaluation.command}\`,`,
    `${evaluation.seconds.total} s. Per-image outputs: \`evidence/\`; \`models/training/recompute_evidence.py\` recomputes every`,
    'figure from them with scikit-learn.',
    '',
    'Micro-F1 over the 7 findings: the ensemble as shipped (majority of the members at their shipped, Youden, operating',
    'points); each member at its shipped points and at its own best-F1 points (per finding, chosen on the validation',
    'split). Hierarchical F1: sets extended with their PadChest ancestors, the root left out. Untrained heads never vote',
    `(${untrained.join(', ') || 'none'}): their positives are misses in every F1.`,
    '',
    '| model | micro-F1 | hierarchical F1 (no root) | precision / recall |',
    '|---|---|---|---|',
    `| **ensemble (majority, shipped)** | ${ci(e.microF1)} | ${ci(e.hierarchicalF1)} | ${fmt(e.microF1.precision)} / ${fmt(e.microF1.recall)} |`,
    ...memberIds.flatMap((id) => {
      const m = figures.members[id];
      return [
        `| ${id}, best-F1 points | ${ci(m.bestF1.microF1)} | ${ci(m.bestF1.hierarchicalF1)} | ${fmt(m.bestF1.microF1.precision)} / ${fmt(m.bestF1.microF1.recall)} |`,
        `| ${id}, shipped points | ${ci(m.shipped.microF1)} | ${ci(m.shipped.hierarchicalF1)} | ${fmt(m.shipped.microF1.precision)} / ${fmt(m.shipped.microF1.recall)} |`,
      ];
    }),
    '',
    'Paired differences, ensemble minus member (same resamples):',
    '',
    ...verdicts(figures, memberIds),
    '',
    '| member | micro-F1 vs best-F1 points | micro-F1 vs shipped points | hierarchical F1 vs best-F1 | mean AUC (7) |',
    '|---|---|---|---|---|',
    ...memberIds.map((id) => {
      const d = figures.differences[id];
      return `| ${id} | ${signed(d.microF1VsBestF1)} | ${signed(d.microF1VsShipped)} | ${signed(d.hierarchicalF1VsBestF1)} | ${signed(d.meanAuc)} |`;
    }),
    '',
    "AUC per finding and the mean over all 7 (members: logits; ensemble: the Engine's ensemble probability; the",
    "untrained nodule heads as they score, the ensemble's nodule score the members' mean sigmoid):",
    '',
    `| model | ${terms.join(' | ')} | mean (7) |`,
    `|---|${terms.map(() => '---|').join('')}---|`,
    ...[['**ensemble**', e] as const, ...memberIds.map((id) => [id, figures.members[id]] as const)].map(
      ([name, m]) => `| ${name} | ${terms.map((term) => ci(m.auc[term])).join(' | ')} | ${ci(m.meanAuc)} |`,
    ),
    '',
    'Pointing game: of the ensemble-positive, truly present findings, the share whose heatmap peak lies inside the',
    'ground-truth mask (no tolerance; members: their own maps on those they voted for). The maps were trained towards',
    "the masks (train.py's localisation loss), and cardiomegaly's mask is the whole heart, which the peak nearly always",
    'hits:',
    '',
    '| model | all findings | without cardiomegaly |',
    '|---|---|---|',
    ...[['**ensemble**', e] as const, ...memberIds.map((id) => [id, figures.members[id]] as const)].map(
      ([name, m]) =>
        `| ${name} | ${ci(m.pointing.all)}, ${m.pointing.all.hits} of ${m.pointing.all.total} | ${ci(m.pointing.withoutCardiomegaly)}, ${m.pointing.withoutCardiomegaly.hits} of ${m.pointing.withoutCardiomegaly.total} |`,
    ),
    '',
    `Best-F1 operating points (logit thresholds; validation F1 in brackets): ${memberIds
      .map(
        (id) =>
          `${id}: ${terms
            .filter((term) => figures.bestF1OperatingPoints[id][term].threshold !== null)
            .map(
              (term) =>
                `${term} ${fmt(figures.bestF1OperatingPoints[id][term].threshold)} (${fmt(figures.bestF1OperatingPoints[id][term].validationF1)})`,
            )
            .join(', ')}`,
      )
      .join('; ')}.`,
    '',
  );
  if (untrained.length > 0) {
    const validation = (term: string) =>
      Object.entries(training?.members ?? {})
        .map(([id, member]) => `${id} ${fmt(member.validation.perLabel[term]?.auc ?? null)}`)
        .join(', ');
    lines.push(
      '## Limitations',
      '',
      `**Not detected: ${untrained.join(', ')}.** No member learned it: validation AUC ${untrained.map((term) => `${term}: ${validation(term)}`).join('; ')},`,
      `below the ${training?.ensembleValidation?.minTrainedAuc ?? 0.6} that a head needs to ship trained. Those heads are masked (they never vote, as TorchXRayVision masks`,
      'the heads it could not train), so the pack never reports these findings, and their true cases count as missed in',
      `every F1 above. On the evidence split they score AUC ${untrained.map((term) => `${term}: ${memberIds.map((id) => `${id} ${fmt(figures.members[id].auc[term].value)}`).join(', ')}`).join('; ')}. See models/training/README.md.`,
      '',
    );
  }
  lines.push('Full figures: `evaluation.json`; training log: `training.json` and `training.log`.', '');
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
