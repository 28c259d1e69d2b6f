/**
 * Evaluates the demonstration pack on the held-out test phantoms with the product's own Engine
 * (CPU), exactly as `triage analyze` would run it, and records the results.
 *
 * usage: node --import tsx models/training/evaluate.ts --data DIR --pack models/packs/demo
 *          [--out FILE] [--limit N] [--threads N] [--no-update]
 *
 * DIR is the generator's output for the test split (DICOM images, labels.csv, masks/). Reports,
 * per member and for the ensemble:
 *   - AUC per finding: a member's calibrated probability; the ensemble's mean calibrated probability
 *     (the values the product reports, rounded by it to 4 decimals; ties count half);
 *   - micro-F1 over the 7 findings at the operating points (a member: calibrated >= 0.5; the
 *     ensemble: its majority vote), with micro precision and recall;
 *   - hierarchical F1: true and predicted sets extended with their ancestors in the PadChest finding
 *     tree (loadTaxonomy().ancestors(term, 'finding')), micro precision/recall over the extended sets;
 *   - the pointing game: of the findings that are ensemble-positive and truly present, the share
 *     whose ensemble heatmap peak (peak(): original image pixels) lies inside the ground-truth mask,
 *     with no tolerance (the headline figure), and, for reference, within one CAM cell (8 input
 *     pixels, i.e. the crop side / 28) of it. Members: the same test on their own maps, over the
 *     ensemble-positive true findings they voted for (the engine makes maps only for those).
 * Unless --no-update, writes PACK/evaluation.json, each member's card.metrics.test and PACK/README.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Engine } from '../../main/engine/index.js';
import { peak } from '../../main/explain/index.js';
import { decodePng } from '../../main/ingest/index.js';
import { ENSEMBLE_FILE, MANIFEST_FILE, MemberManifestSchema } from '../../main/packs/index.js';
import type { MemberManifest } from '../../main/packs/index.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import { auc, hierarchicalF1, microF1, pointInMask } from './metrics.js';
import type { F1, Mask } from './metrics.js';
import { loadConfig, readLabels } from './prepare-dataset.js';

const FEATURE_STRIDE = 8;

interface Pointing {
  hits: number;
  total: number;
  hitsWithinCell: number;
  rate: number | null;
  rateWithinCell: number | null;
  perFinding: Record<string, { hits: number; total: number; rate: number | null }>;
}

interface Scores {
  auc: Record<string, number | null>;
  meanAuc: number;
  microF1: F1;
  /** The same counts per finding: where the errors are. */
  perFinding: Record<string, F1>;
  hierarchicalF1: F1;
  pointingGame: Pointing;
}

function newPointing(terms: string[]): Pointing {
  return {
    hits: 0,
    total: 0,
    hitsWithinCell: 0,
    rate: null,
    rateWithinCell: null,
    perFinding: Object.fromEntries(terms.map((term) => [term, { hits: 0, total: 0, rate: null }])),
  };
}

function finishPointing(pointing: Pointing): Pointing {
  pointing.rate = pointing.total > 0 ? pointing.hits / pointing.total : null;
  pointing.rateWithinCell = pointing.total > 0 ? pointing.hitsWithinCell / pointing.total : null;
  for (const entry of Object.values(pointing.perFinding))
    entry.rate = entry.total > 0 ? entry.hits / entry.total : null;
  return pointing;
}

function round(value: number | null, digits = 4): number | null {
  return value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;
}

function roundDeep<T>(value: T): T {
  if (typeof value === 'number') return round(value) as T;
  if (Array.isArray(value)) return value.map(roundDeep) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)])) as T;
  return value;
}

/** The mask of one finding on one image: masks/<term with dashes>/<image>.png (or <image stem>.png). */
function maskPath(dir: string, term: string, file: string): string | null {
  const folder = join(dir, 'masks', term.replace(/ /g, '-'));
  const stem = basename(file, extname(file));
  for (const name of [`${basename(file)}.png`, `${stem}.png`, basename(file)]) {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      pack: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
      threads: { type: 'string' },
      'no-update': { type: 'boolean', default: false },
    },
  });
  if (!values.data || !values.pack)
    throw new Error('usage: evaluate.ts --data DIR --pack PACK [--out FILE] [--limit N] [--threads N] [--no-update]');
  const dataDir = resolve(values.data);
  const packDir = resolve(values.pack);
  const config = loadConfig();
  const terms = config.labels.map((label) => label.term);
  const taxonomy = loadTaxonomy();
  const ancestors = (term: string) => taxonomy.ancestors(term, 'finding');

  let { files, labels } = readLabels(join(dataDir, 'labels.csv'), terms);
  if (values.limit) {
    files = files.slice(0, Number(values.limit));
    labels = labels.slice(0, files.length);
  }
  const truth = labels.map((row) => row.map((value) => value > 0));
  // prepare-dataset.ts describes DIR in DIR.json (seed, count, generator command).
  const description = existsSync(`${dataDir}.json`)
    ? (JSON.parse(readFileSync(`${dataDir}.json`, 'utf8')) as { seed: number; generator: string })
    : null;
  const seed = description?.seed ?? config.splits.test.seed;
  if (seed !== config.splits.test.seed)
    console.warn(`warning: these phantoms have seed ${seed}, not the test split's ${config.splits.test.seed}`);

  const engine = await Engine.create({
    models: packDir,
    provider: 'cpu',
    threads: values.threads ? Number(values.threads) : Math.min(2, availableParallelism()),
    batchSize: 16,
  });
  const memberIds = engine.pack.members.map((member) => member.manifest.id);
  // A head shipped untrained never votes (the product masks it): its finding is never called by
  // that member, and a finding no member covers is never called at all (its positives are misses)
  // and has no probability, so no AUC.
  const trainedTerms = Object.fromEntries(
    engine.pack.members.map((member) => [
      member.manifest.id,
      new Set(member.manifest.labels.filter((l) => l.trained && l.tree === 'finding').map((l) => l.term)),
    ]),
  );
  const covered = new Set(terms.filter((term) => memberIds.some((id) => trainedTerms[id].has(term))));
  const perMember = Object.fromEntries(
    memberIds.map((id) => [
      id,
      { probability: [] as Array<Array<number | null>>, called: [] as boolean[][], pointing: newPointing(terms) },
    ]),
  );
  const ensemble = {
    probability: [] as Array<Array<number | null>>,
    called: [] as boolean[][],
    pointing: newPointing(terms),
  };
  let rolledUpMismatches = 0;
  const started = performance.now();
  let index = 0;
  for await (const { result, heatmaps } of engine.analyze(files.map((file) => join(dataDir, file)))) {
    const file = files[index];
    if (result.status !== 'ok') throw new Error(`${file}: ${result.status} (${result.reason ?? ''})`);
    const byTerm = new Map(result.findings.filter((f) => f.tree === 'finding').map((f) => [f.term, f]));
    const findings = terms.map((term) => {
      const finding = byTerm.get(term);
      if (!covered.has(term)) {
        if (finding) throw new Error(`${file}: the result votes on "${term}", which no member has trained`);
        return null;
      }
      if (!finding || !finding.probability) throw new Error(`${file}: the result has no vote on "${term}"`);
      return finding;
    });
    ensemble.probability.push(findings.map((f) => f?.probability?.mean ?? null));
    ensemble.called.push(findings.map((f) => f?.positive ?? false));
    for (const id of memberIds) {
      perMember[id].probability.push(findings.map((f) => (f && trainedTerms[id].has(f.term) ? f.perModel[id] : null)));
      perMember[id].called.push(
        findings.map((f) => (f && trainedTerms[id].has(f.term) ? f.perModel[id] >= 0.5 : false)),
      );
    }
    // The product's own roll-up must be what hierarchical F1 assumes: positives plus ancestors.
    const expected = new Set(
      terms.filter((_, k) => findings[k]?.positive).flatMap((term) => [term, ...ancestors(term)]),
    );
    const reported = new Set(result.findings.filter((f) => f.tree === 'finding' && f.positive).map((f) => f.term));
    if (expected.size !== reported.size || [...expected].some((term) => !reported.has(term))) rolledUpMismatches++;

    // Pointing game on the ensemble-positive, truly present findings.
    terms.forEach((term, k) => {
      if (!findings[k]?.positive || !truth[index][k]) return;
      const maps = heatmaps.get(term);
      const path = maskPath(dataDir, term, file);
      if (!maps || !path) throw new Error(`${file}: no ${maps ? 'mask' : 'heatmap'} for the true positive "${term}"`);
      const mask = loadMask(path);
      const { imageRows, imageColumns } = maps.ensemble;
      const cell = (Math.min(imageRows, imageColumns) * FEATURE_STRIDE) / config.input.width;
      const score = (target: Pointing, heatmap: typeof maps.ensemble) => {
        const point = peak(heatmap);
        const hit = pointInMask(mask, point.x, point.y, imageColumns, imageRows);
        target.total++;
        target.perFinding[term].total++;
        if (hit) {
          target.hits++;
          target.perFinding[term].hits++;
        }
        if (hit || pointInMask(mask, point.x, point.y, imageColumns, imageRows, cell)) target.hitsWithinCell++;
      };
      score(ensemble.pointing, maps.ensemble);
      for (const [id, heatmap] of Object.entries(maps.perModel)) score(perMember[id].pointing, heatmap);
    });
    index++;
    if (index % 200 === 0) console.log(`  ${index}/${files.length} analysed`);
  }
  const seconds = (performance.now() - started) / 1000;
  const provider = engine.provider;
  await engine.close();

  const truthTerms = truth.map((row) => terms.filter((_, k) => row[k]));
  const score = (probability: Array<Array<number | null>>, called: boolean[][], pointing: Pointing): Scores => {
    const aucOf = (k: number) => {
      const values = probability.map((row) => row[k]);
      return values.every((value): value is number => value !== null)
        ? auc(
            truth.map((row) => row[k]),
            values,
          )
        : null;
    };
    const aucs = Object.fromEntries(terms.map((term, k) => [term, aucOf(k)]));
    const defined = Object.values(aucs).filter((value): value is number => value !== null);
    return {
      auc: aucs,
      meanAuc: defined.reduce((sum, value) => sum + value, 0) / defined.length,
      microF1: microF1(truth, called),
      perFinding: Object.fromEntries(
        terms.map((term, k) => [
          term,
          microF1(
            truth.map((row) => [row[k]]),
            called.map((row) => [row[k]]),
          ),
        ]),
      ),
      hierarchicalF1: hierarchicalF1(
        truthTerms,
        called.map((row) => terms.filter((_, k) => row[k])),
        ancestors,
      ),
      pointingGame: finishPointing(pointing),
    };
  };
  const memberScores = Object.fromEntries(
    memberIds.map((id) => [id, score(perMember[id].probability, perMember[id].called, perMember[id].pointing)]),
  );
  const ensembleScores = score(ensemble.probability, ensemble.called, ensemble.pointing);

  // Diversity: how often the other members repeat a member's error (a majority of three only
  // corrects the errors that one member makes alone).
  const errors = (id: string) =>
    truth.flatMap((row, i) => row.map((present, k) => perMember[id].called[i][k] !== present));
  const errorSets = Object.fromEntries(memberIds.map((id) => [id, errors(id)]));
  const decisions = truth.length * terms.length;
  let errorsAlone = 0;
  let errorsShared = 0;
  for (let d = 0; d < decisions; d++) {
    const wrong = memberIds.filter((id) => errorSets[id][d]).length;
    if (wrong === 1) errorsAlone++;
    else if (wrong > 1) errorsShared++;
  }
  const best = memberIds.reduce((a, b) => (memberScores[b].microF1.f1 > memberScores[a].microF1.f1 ? b : a));
  const ensembleWins = ensembleScores.microF1.f1 > memberScores[best].microF1.f1;
  const prevalence = Object.fromEntries(
    terms.map((term, k) => [term, truth.filter((row) => row[k]).length / truth.length]),
  );

  const evaluation = roundDeep({
    pack: { id: engine.pack.ensemble.id, version: engine.pack.ensemble.version, rule: engine.pack.ensemble.rule },
    data: {
      dir: basename(dataDir),
      images: files.length,
      seed,
      generator: description?.generator ?? null,
      prevalence,
      note: 'Held-out test phantoms (their own generator seed), never used for training or tuning.',
    },
    engine: { provider, seconds: Math.round(seconds * 10) / 10, imagesPerSecond: files.length / seconds },
    method: {
      auc: 'Mann-Whitney with mid-ranks on the calibrated probabilities the product reports (members: perModel; ensemble: the mean), 4 decimals',
      microF1:
        'over the 7 findings and every image; members positive at calibrated >= 0.5 (their operating point), the ensemble by its majority vote; heads shipped untrained never vote, and the positives of a finding that no member covers count as missed',
      hierarchicalF1:
        "true and predicted finding sets extended with their ancestors in the PadChest finding tree (the root 'radiological finding' included), micro precision/recall over the extended sets",
      pointingGame:
        'ensemble-positive findings that are truly present: hit when the peak of the ensemble heatmap (original image pixels) lies inside the ground-truth mask, no tolerance; rateWithinCell: within one CAM cell (crop side / 28) of the mask. Members: their own maps, on the ensemble-positive true findings they voted for.',
    },
    untrained: Object.fromEntries(memberIds.map((id) => [id, terms.filter((term) => !trainedTerms[id].has(term))])),
    uncovered: terms.filter((term) => !covered.has(term)),
    members: memberScores,
    ensemble: ensembleScores,
    comparison: {
      bestMember: best,
      bestMemberMicroF1: memberScores[best].microF1.f1,
      ensembleMicroF1: ensembleScores.microF1.f1,
      ensembleBeatsBestMember: ensembleWins,
      errors: {
        decisions,
        madeByOneMemberOnly: errorsAlone,
        madeByTwoOrMoreMembers: errorsShared,
        note: 'A majority of three corrects an error only when the other two members are right.',
      },
    },
    rolledUpMismatches,
  });
  if (rolledUpMismatches > 0)
    console.warn(`warning: ${rolledUpMismatches} images whose reported roll-up differs from positives + ancestors`);

  // Print the table.
  const short = ['Card', 'Effu', 'PTX', 'Nod', 'Mass', 'Cons', 'Atel'];
  console.log(
    `\nheld-out test: ${files.length} phantoms (seed ${seed}), engine on ${provider}, ${seconds.toFixed(1)} s`,
  );
  console.log(
    `${'model'.padEnd(10)} ${short.map((s) => s.padStart(5)).join(' ')}  meanAUC  microF1  hierF1  pointing (within 1 cell)`,
  );
  const rows: Array<[string, Scores]> = [
    ...memberIds.map((id): [string, Scores] => [id, memberScores[id]]),
    ['ensemble', ensembleScores],
  ];
  for (const [name, s] of rows) {
    console.log(
      `${name.padEnd(10)} ${terms.map((term) => fmt(s.auc[term]).padStart(5)).join(' ')}  ${fmt(s.meanAuc).padStart(7)}  ${fmt(s.microF1.f1).padStart(7)}  ${fmt(s.hierarchicalF1.f1).padStart(6)}  ${fmt(s.pointingGame.rate)} of ${s.pointingGame.total} (${fmt(s.pointingGame.rateWithinCell)})`,
    );
  }
  console.log(
    `ensemble micro-F1 ${fmt(ensembleScores.microF1.f1)} vs best member ${best} ${fmt(memberScores[best].microF1.f1)}: ${ensembleWins ? 'the ensemble wins' : 'the ensemble does NOT win'}; errors made by one member only ${errorsAlone}, by two or more ${errorsShared}`,
  );

  const out = values.out ? resolve(values.out) : join(packDir, 'evaluation.json');
  if (values['no-update']) {
    if (values.out) writeFileSync(out, `${JSON.stringify(evaluation, null, 2)}\n`);
    return;
  }
  writeFileSync(out, `${JSON.stringify(evaluation, null, 2)}\n`);
  for (const id of memberIds) {
    const path = join(packDir, id, MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as MemberManifest;
    const s = evaluation.members[id];
    manifest.card.metrics = {
      ...manifest.card.metrics,
      test: {
        images: files.length,
        seed,
        auc: s.auc,
        meanAuc: s.meanAuc,
        microF1: s.microF1.f1,
        microPrecision: s.microF1.precision,
        microRecall: s.microF1.recall,
        hierarchicalF1: s.hierarchicalF1.f1,
        pointingGame: s.pointingGame.rate,
        pointingGameFindings: s.pointingGame.total,
        ensembleMicroF1: evaluation.ensemble.microF1.f1,
        ensemblePointingGame: evaluation.ensemble.pointingGame.rate,
      },
    };
    MemberManifestSchema.parse(manifest);
    writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  writeFileSync(join(packDir, 'README.md'), readme(packDir, evaluation, memberIds, terms));
  console.log(`wrote ${out}, the members' card metrics and ${join(packDir, 'README.md')}`);
}

type Evaluation = {
  uncovered: string[];
  members: Record<string, Scores>;
  ensemble: Scores;
  comparison: {
    bestMember: string;
    ensembleBeatsBestMember: boolean;
    errors: { madeByOneMemberOnly: number; madeByTwoOrMoreMembers: number };
  };
  data: { images: number; seed: number; prevalence: Record<string, number> };
  engine: { provider: string; seconds: number };
};

interface TrainingReport {
  threads: number;
  /** Where the members trained: a GPU's name, or "cpu" (older reports: absent, the CPU). */
  device?: string;
  torch?: string;
  totalSeconds: number;
  data: Record<string, { seed: number; count: number }>;
  members: Record<
    string,
    {
      architecture: string;
      parameters: number;
      seed: number;
      onnxBytes: number;
      bootstrap: { size: number; distinct: number };
      epochsRun: number;
      bestEpoch: number;
      trainSeconds: number;
      /** micro-F1 with the heads shipped untrained masked, as the product runs the member. */
      validationShippedMicroF1?: number;
      validation: { meanAuc: number; microF1: number; perLabel: Record<string, { auc: number | null }> };
    }
  >;
  /** minTrainedAuc: train.py's rule, the validation AUC a head needs to ship trained. */
  ensembleValidation?: {
    microF1: number;
    meanAuc: number;
    perLabelAuc: Record<string, number | null>;
    minTrainedAuc?: number;
  };
}

/** Findings the pack does not detect (heads shipped untrained) or barely learned. */
function limitations(evaluation: Evaluation, terms: string[], training: TrainingReport | null): string[] {
  const uncovered = evaluation.uncovered;
  const weak = terms.filter((term) => !uncovered.includes(term) && (evaluation.ensemble.auc[term] ?? 0) < 0.7);
  if (weak.length === 0 && uncovered.length === 0) return [];
  const lines = ['## Limitations', ''];
  if (uncovered.length > 0) {
    const validation = (term: string) =>
      Object.entries(training?.members ?? {})
        .map(([id, member]) => `${id} ${fmt(member.validation.perLabel[term]?.auc ?? null)}`)
        .join(', ');
    lines.push(
      `**Not detected: ${uncovered.join(', ')}.** No member learned it: validation AUC ${uncovered.map((term) => `${term}: ${validation(term)}`).join('; ')},`,
      `below the ${training?.ensembleValidation?.minTrainedAuc ?? 0.6} that a head needs to ship trained. Those heads are masked (they never vote, as TorchXRayVision masks`,
      'the heads it could not train), so the pack never reports these findings, and their true cases count as missed',
      `in every micro-F1 above (${uncovered.map((term) => `${term}: ${evaluation.ensemble.perFinding[term].fn} images`).join(', ')}). See models/training/README.md.`,
      '',
    );
  }
  if (weak.length > 0) {
    const fp = weak.reduce((sum, term) => sum + evaluation.ensemble.perFinding[term].fp, 0);
    lines.push(
      `Barely learned (held-out ensemble AUC below 0.7): ${weak.map((term) => `${term} (${fmt(evaluation.ensemble.auc[term])})`).join(', ')}.`,
      'On a near-chance output the Youden operating point is close to arbitrary, so these calls are close to random:',
      `they account for ${fp} of the ensemble's ${evaluation.ensemble.microF1.fp} false positives.`,
      '',
    );
  }
  return lines;
}

function readme(packDir: string, evaluation: Evaluation, memberIds: string[], terms: string[]): string {
  const ensemble = JSON.parse(readFileSync(join(packDir, ENSEMBLE_FILE), 'utf8')) as { name: string; version: string };
  const trainingPath = join(packDir, 'training.json');
  const training = existsSync(trainingPath) ? (JSON.parse(readFileSync(trainingPath, 'utf8')) as TrainingReport) : null;
  const manifests = Object.fromEntries(
    memberIds.map((id) => [id, JSON.parse(readFileSync(join(packDir, id, MANIFEST_FILE), 'utf8')) as MemberManifest]),
  );
  const { comparison } = evaluation;
  const best = comparison.bestMember;
  const lines = [
    `# ${ensemble.name}`,
    '',
    '> **Not for clinical use.** A demonstration pack (`demo: true`): trained and tested only on synthetic',
    "> phantoms made by the project's own generator. It has never seen a real radiograph; its findings on one",
    '> are meaningless. The workstation labels every result it produces as not for clinical use.',
    '',
    `Version ${ensemble.version}. Members \`${memberIds.join('`, `')}\`, voting rule: majority (a finding is positive when at`,
    'least two of the three members call it). Generated by `models/training/evaluate.ts`; reproduce the whole pack with',
    '`models/training/build-demo-pack.sh`.',
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
    `Input (all members): 1 x 224 x 224, the display rendering (VOI window, bone bright), centre square crop, area`,
    'resize, TorchXRayVision normalisation to [-1024, 1024]. Outputs: `scores` (logits) and `cam` (7 x 28 x 28, the',
    'classifier applied to the ReLU features, bias included, so that its mean over the cells is the logit).',
    "Operating points: per finding, the threshold that maximises Youden's J on the validation split.",
    '',
    '## Data',
    '',
    `- training: ${training?.data.train?.count ?? '-'} phantoms, generator seed ${training?.data.train?.seed ?? '-'}; each member trains on its own bootstrap sample`,
    `- validation: ${training?.data.validation?.count ?? '-'} phantoms, seed ${training?.data.validation?.seed ?? '-'}: early stopping and operating points`,
    `- held-out test: ${evaluation.data.images} phantoms, seed ${evaluation.data.seed}: this evaluation only, never training or tuning`,
    `- test prevalence: ${terms.map((term) => `${term} ${(100 * evaluation.data.prevalence[term]).toFixed(1)} %`).join(', ')}`,
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
    const minutes = memberIds
      .map((id) => `${id} ${(training.members[id].trainSeconds / 60).toFixed(1)} min`)
      .join(', ');
    lines.push(
      '',
      `Training (each member in its own process): ${minutes}, on ${trainedOn}${training.torch ? ` with torch ${training.torch}` : ''}.`,
      '',
    );
  }
  const row = (name: string, s: Scores) =>
    `| ${name} | ${terms.map((term) => fmt(s.auc[term])).join(' | ')} | ${fmt(s.meanAuc)} | ${fmt(s.microF1.f1)} | ${fmt(s.hierarchicalF1.f1)} | ${fmt(s.pointingGame.rate)} (${s.pointingGame.total}) |`;
  lines.push(
    "## Held-out test (the product's Engine, CPU)",
    '',
    `AUC per finding (members: calibrated probability; ensemble: mean calibrated probability), micro-F1 over the 7`,
    'findings at the operating points (ensemble: its majority vote), hierarchical F1 (true and predicted sets extended',
    'with their PadChest ancestors), and the pointing game (share of ensemble-positive, truly present findings whose',
    'heatmap peak lies inside the ground-truth mask, no tolerance; the number of findings in brackets; members: their',
    'own maps on the findings among those that they voted for).',
    '',
    `| model | ${terms.join(' | ')} | mean AUC | micro-F1 | hierarchical F1 | pointing game |`,
    `|---|${terms.map(() => '---|').join('')}---|---|---|---|`,
    ...memberIds.map((id) => row(id, evaluation.members[id])),
    row('**ensemble**', evaluation.ensemble),
    '',
    `Pointing game per finding (ensemble): ${terms
      .map(
        (term) =>
          `${term} ${fmt(evaluation.ensemble.pointingGame.perFinding[term].rate)} (${evaluation.ensemble.pointingGame.perFinding[term].total})`,
      )
      .join(', ')}; within one CAM cell of the mask: ${fmt(evaluation.ensemble.pointingGame.rateWithinCell)}.`,
    '',
    `Micro precision / recall: ${[
      ...memberIds.map((id) => [id, evaluation.members[id]] as const),
      ['ensemble', evaluation.ensemble] as const,
    ]
      .map(([name, s]) => `${name} ${fmt(s.microF1.precision)} / ${fmt(s.microF1.recall)}`)
      .join('; ')}.`,
    '',
    comparison.ensembleBeatsBestMember
      ? `**The majority-vote ensemble beats its best single member** (\`${best}\`) on micro-F1: ${fmt(evaluation.ensemble.microF1.f1)} against ${fmt(evaluation.members[best].microF1.f1)}.`
      : `**The majority-vote ensemble does not beat its best single member** (\`${best}\`) on micro-F1: ${fmt(evaluation.ensemble.microF1.f1)} against ${fmt(evaluation.members[best].microF1.f1)}.`,
    `Of all the members' wrong decisions, ${comparison.errors.madeByOneMemberOnly} were made by one member alone (a majority can correct`,
    `those) and ${comparison.errors.madeByTwoOrMoreMembers} by two or more at once (a majority cannot).`,
    '',
    ...limitations(evaluation, terms, training),
    `Evaluation: ${evaluation.data.images} images in ${evaluation.engine.seconds} s on ${evaluation.engine.provider}. Full figures: \`evaluation.json\`; training log: \`training.json\` and \`training.log\`.`,
    '',
  );
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
