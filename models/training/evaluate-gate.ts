/**
 * Measures the demonstration pack's image-based gate through the product's own Engine (CPU), on
 * images never used to train it or to choose its thresholds:
 *   - held-out phantoms (in distribution: the share refused should be at most 1 %);
 *   - the 40 real radiographs in ../shared/data/cxr-samples (the pack knows nothing of them);
 *   - the misuses and non-radiographs make_gate_challenges.py writes, by kind.
 *
 * usage: node --import tsx models/training/evaluate-gate.ts --pack models/packs/demo
 *          --heldout DIR --challenges DIR [--real DIR]
 *
 * DIR for --heldout: `triage phantom --format dicom` output; --challenges: make_gate_challenges.py's
 * output (its manifest.json says each file's kind). Writes PACK/gate-evaluation.json (the figures,
 * with date, machine and command) and PACK/evidence/gate-test.csv (every image: set, kind, status,
 * each check's score), from which every figure can be recomputed.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../main/engine/index.js';
import { checkName } from '../../main/gate/index.js';
import { ENSEMBLE_FILE, EnsembleManifestSchema } from '../../main/packs/index.js';
import { projectRoot } from '../../main/resources/index.js';

interface Item {
  set: 'held-out phantoms' | 'real radiographs' | 'challenges';
  kind: string;
  file: string;
}

interface Tally {
  images: number;
  /** Refused by the image-based gate. */
  refusedByGate: number;
  /** Refused by the metadata gate or the ingest (not an image, unreadable). */
  refusedBefore: number;
  analysed: number;
  /** Per check: how many images it refused. */
  byCheck: Record<string, number>;
}

function tally(): Tally {
  return { images: 0, refusedByGate: 0, refusedBefore: 0, analysed: 0, byCheck: {} };
}

function rate(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pack: { type: 'string' },
      heldout: { type: 'string' },
      challenges: { type: 'string' },
      real: { type: 'string' },
    },
  });
  if (!values.pack || !values.heldout || !values.challenges) {
    throw new Error('usage: evaluate-gate.ts --pack PACK --heldout DIR --challenges DIR [--real DIR]');
  }
  const packDir = resolve(values.pack);
  const heldout = resolve(values.heldout);
  const challenges = resolve(values.challenges);
  const real = resolve(values.real ?? join(projectRoot(), '..', 'shared', 'data', 'cxr-samples', 'png'));
  const ensemble = EnsembleManifestSchema.parse(JSON.parse(readFileSync(join(packDir, ENSEMBLE_FILE), 'utf8')));
  if (!ensemble.gate) throw new Error(`${packDir} declares no image-based gate`);
  const heldoutSeed = (JSON.parse(readFileSync(join(heldout, 'phantoms.json'), 'utf8')) as { seed?: number }).seed;
  const challengeManifest = JSON.parse(readFileSync(join(challenges, 'manifest.json'), 'utf8')) as {
    command: string;
    files: Array<{ file: string; kind: string; source: string }>;
  };

  const items: Item[] = [
    ...readdirSync(heldout)
      .filter((f) => f.endsWith('.dcm'))
      .sort()
      .map((f): Item => ({ set: 'held-out phantoms', kind: 'phantom', file: join(heldout, f) })),
    ...readdirSync(real)
      .filter((f) => f.endsWith('.png'))
      .sort()
      .map((f): Item => ({ set: 'real radiographs', kind: 'radiograph', file: join(real, f) })),
    ...challengeManifest.files.map((entry): Item => ({
      set: 'challenges',
      kind: entry.kind,
      file: join(challenges, entry.file),
    })),
  ];
  const byFile = new Map(items.map((item) => [item.file, item]));
  const checkNames = ensemble.gate.checks.map(checkName);
  const bySet = new Map<string, Tally>();
  const byKind = new Map<string, Tally>();
  const rows = [['set', 'kind', 'file', 'status', ...checkNames].join(',')];

  const started = performance.now();
  const engine = await Engine.create({ models: packDir, provider: 'cpu' });
  try {
    for await (const { result } of engine.analyze(items.map((item) => item.file))) {
      const item = byFile.get(result.file)!;
      for (const t of [
        bySet.get(item.set) ?? bySet.set(item.set, tally()).get(item.set)!,
        byKind.get(item.kind) ?? byKind.set(item.kind, tally()).get(item.kind)!,
      ]) {
        t.images++;
        if (result.status === 'ok') t.analysed++;
        else if (result.gate && !result.gate.passed) {
          t.refusedByGate++;
          for (const c of result.gate.checks) if (!c.passed) t.byCheck[c.check] = (t.byCheck[c.check] ?? 0) + 1;
        } else t.refusedBefore++;
      }
      const where =
        item.set === 'real radiographs'
          ? `cxr-samples/png/${basename(item.file)}`
          : relative(item.set === 'challenges' ? challenges : heldout, item.file);
      const scores = checkNames.map((name) => result.gate?.checks.find((c) => c.check === name)?.score ?? '');
      const status = result.status === 'ok' ? 'analysed' : result.gate ? 'refused by the image gate' : result.status;
      rows.push([item.set, item.kind, where, status, ...scores].join(','));
    }
  } finally {
    await engine.close();
  }
  const seconds = (performance.now() - started) / 1000;

  const summarize = (t: Tally) => ({ ...t, refusedShare: (t.refusedByGate + t.refusedBefore) / t.images });
  const challengeTotal = [...byKind.entries()].filter(([kind]) => kind !== 'phantom' && kind !== 'radiograph');
  const misuse = challengeTotal.reduce((sum, [, t]) => sum + t.images, 0);
  const misuseRefused = challengeTotal.reduce((sum, [, t]) => sum + t.refusedByGate + t.refusedBefore, 0);
  const cpu = cpus();
  const evaluation = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.versions.node}`,
    command: `node dist/models/training/evaluate-gate.js --pack ${relative(projectRoot(), packDir)} --heldout ${heldout} --challenges ${challenges}`,
    heldoutSeed,
    challenges: {
      command: challengeManifest.command,
      distinctSources: Object.fromEntries(
        [...new Set(challengeManifest.files.map((f) => f.kind))].map((kind) => [
          kind,
          new Set(
            challengeManifest.files.filter((f) => f.kind === kind).map((f) => f.source.replace(/, .* window$/, '')),
          ).size,
        ]),
      ),
    },
    seconds: Math.round(seconds * 10) / 10,
    goals: {
      heldOutPhantomsRefused: { goal: '<= 1 %', share: summarize(bySet.get('held-out phantoms')!).refusedShare },
      realRadiographsRefused: { goal: '>= 95 %', share: summarize(bySet.get('real radiographs')!).refusedShare },
      challengesRefused: { goal: '>= 95 %', share: misuseRefused / misuse },
    },
    sets: Object.fromEntries([...bySet].map(([name, t]) => [name, summarize(t)])),
    kinds: Object.fromEntries([...byKind].map(([name, t]) => [name, summarize(t)])),
    checks: ensemble.gate.checks,
  };
  writeFileSync(join(packDir, 'gate-evaluation.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
  mkdirSync(join(packDir, 'evidence'), { recursive: true });
  writeFileSync(join(packDir, 'evidence', 'gate-test.csv'), `${rows.join('\n')}\n`);

  console.log(`| images | kind | refused by the image gate | refused before it | analysed | refused |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const [kind, t] of byKind) {
    console.log(
      `| ${t.images} | ${kind} | ${t.refusedByGate} | ${t.refusedBefore} | ${t.analysed} | ${rate(t.refusedByGate + t.refusedBefore, t.images)} |`,
    );
  }
  console.log(`challenges in all: ${misuseRefused} of ${misuse} refused (${rate(misuseRefused, misuse)})`);
  console.log(`${items.length} images in ${seconds.toFixed(1)} s; ${evaluation.machine}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
