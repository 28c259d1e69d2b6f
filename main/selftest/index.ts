/**
 * The installation check that hospital IT runs on a workstation: `triage selftest`, and the
 * installed app's `--selftest` (which cannot run the CLI). Every installed pack runs the bundled
 * phantoms on the chosen provider and on the CPU; results must agree within a stated tolerance,
 * and must equal the results recorded for the pack when it was built (selftest.json in the pack),
 * if it has them. Options, report and exit codes are the same wherever it runs.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Provider } from '../common/index.js';
import { Engine } from '../engine/index.js';
import type { AnalysisResult } from '../domain/index.js';
import { toTriageError, TriageError } from '../errors/index.js';
import { isProviderChoice, PROVIDER_SYNOPSIS, providerChoiceProblem } from '../inference/index.js';
import type { ProviderChoice } from '../inference/index.js';
import type { ModelPack } from '../packs/index.js';
import { resourcePath } from '../resources/index.js';
import { CAM_TOLERANCE, camGaps, memberOutputs } from './outputs.js';

export { CAM_TOLERANCE, camGaps, memberOutputs } from './outputs.js';
export type { CamGap, CamOutput, ImageOutputs, MemberOutput } from './outputs.js';

function usage(message: string): never {
  throw new TriageError('USAGE', message);
}

/** Calibrated probabilities from another provider may differ by float rounding, not more. */
export const TOLERANCE = 1e-3;
export const SELFTEST_FILE = 'selftest.json';

export const SELFTEST_HELP = `triage selftest [--ep ${PROVIDER_SYNOPSIS}] [--models DIR]... [--samples DIR] [--json]

  Runs the bundled phantoms through every installed model pack on the chosen provider and on the
  CPU, and prints a pass/fail table. Checks: the pack loads (manifests, SHA-256 of every model);
  calibrated probabilities agree with the CPU within ${TOLERANCE} and positive calls are identical;
  every member with a cam output: on every image, each label's map averages to its logit
  (within ${CAM_TOLERANCE} x max(1, |logit|)); the positive findings equal those recorded when the
  pack was built (${SELFTEST_FILE}).
  Exit code 0 when every check passes, 1 when one fails.
  --ep NAME      the provider to check; kserve:http://HOST:PORT checks a KServe v2 (Triton) server
                 serving the repository triage triton-repo writes (docs/remote-inference.md)
  --models DIR   a pack to test (repeatable); default: every pack under models/packs
  --samples DIR  the images to run; default: the bundled phantoms (models/samples/phantoms)`;

/** What a pack records of its own results on the bundled samples (by file name), on the CPU. */
export interface RecordedResults {
  pack: { id: string; version: string };
  samples: Record<string, { positives: string[]; perModel: Record<string, Record<string, number>> }>;
}

export interface PackReport {
  pack: string;
  provider: string;
  images: number;
  checks: Array<{ name: string; passed: boolean; detail: string }>;
  passed: boolean;
  imagesPerSecond: { chosen: number; cpu: number };
}

function sampleFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.(dcm|png|jpe?g)$/i.test(name))
    .sort()
    .map((name) => join(dir, name));
}

function installedPacks(): string[] {
  const root = resourcePath('models', 'packs');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'ensemble.json')))
    .map((entry) => join(root, entry.name));
}

async function run(
  pack: string,
  provider: string,
  files: string[],
): Promise<{
  results: AnalysisResult[];
  provider: Provider;
  endpoint: string | null;
  seconds: number;
  fallbacks: string[];
  models: ModelPack;
}> {
  const engine = await Engine.create({ models: pack, provider: provider as never });
  try {
    const started = performance.now();
    const results: AnalysisResult[] = [];
    for await (const { result } of engine.analyze(files)) results.push(result);
    const fallbacks = engine.providerAttempts.map((a) => `${a.provider} (${a.reason})`);
    return {
      results,
      provider: engine.provider,
      endpoint: engine.endpoint,
      seconds: (performance.now() - started) / 1000,
      fallbacks,
      models: engine.pack,
    };
  } finally {
    await engine.close();
  }
}

function positives(result: AnalysisResult): string[] {
  return result.findings
    .filter((f) => f.positive && f.direct)
    .map((f) => `${f.tree}:${f.term}`)
    .sort();
}

/** Largest difference between two runs' calibrated probabilities, over images, findings, members. */
export function maxDifference(a: AnalysisResult[], b: AnalysisResult[]): number {
  let max = 0;
  a.forEach((result, i) => {
    for (const finding of result.findings) {
      const other = b[i].findings.find((f) => f.term === finding.term && f.tree === finding.tree);
      for (const [member, value] of Object.entries(finding.perModel)) {
        const otherValue = other?.perModel[member];
        max = Math.max(max, otherValue === undefined ? Infinity : Math.abs(value - otherValue));
      }
    }
  });
  return max;
}

function short(value: number): string {
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toFixed(4) : value.toExponential(2);
}

/**
 * The pack format's promise for a cam output, checked on the models themselves: every member with
 * one, on every image the engine analysed, on the provider it ran on. A map that does not average
 * to its logit (an exporter that dropped the bias, scaled the map or took another layer) would show
 * a reader something other than what drives the score.
 */
export async function camCheck(
  pack: ModelPack,
  provider: ProviderChoice,
  files: string[],
): Promise<{ name: string; passed: boolean; detail: string }> {
  const name = 'CAM mean equals the logit';
  const withCam = pack.members.filter((member) => member.manifest.outputs.cam).map((member) => member.manifest);
  if (withCam.length === 0) return { name, passed: true, detail: 'no member has a cam output (occlusion maps)' };
  const rule = `tolerance ${CAM_TOLERANCE} x max(1, |logit|)`;
  let maps = 0;
  let largest = 0;
  const mismatches: string[] = [];
  try {
    for await (const image of memberOutputs(pack, files, { provider, cam: true })) {
      for (const manifest of withCam) {
        const output = image.members[manifest.id];
        for (const gap of camGaps(output.scores, output.cam!, manifest.outputs.scores.kind)) {
          maps++;
          largest = Math.max(largest, gap.difference);
          // Written so that a NaN fails.
          if (!(gap.difference <= gap.allowed)) {
            mismatches.push(
              `${manifest.id} on ${basename(image.file)}, ${manifest.labels[gap.label].name}: mean of the map ${short(gap.mean)}, logit ${short(gap.logit)}`,
            );
          }
        }
      }
    }
  } catch (error) {
    const coded = toTriageError(error);
    return { name, passed: false, detail: `${coded.code}: ${coded.message}` };
  }
  if (mismatches.length === 0) {
    return {
      name,
      passed: true,
      detail: `${maps} maps (${withCam.length} member${withCam.length === 1 ? '' : 's'} x ${files.length} images x labels); largest |mean - logit| ${largest.toExponential(1)} (${rule})`,
    };
  }
  const more = mismatches.length > 3 ? `; and ${mismatches.length - 3} more` : '';
  const error = new TriageError(
    'CAM_MISMATCH',
    `${mismatches.length} of ${maps} class activation maps do not average to their logit (${rule}): ` +
      `${mismatches.slice(0, 3).join('; ')}${more}. Their heatmaps would not show what drives the scores: replace the pack.`,
  );
  return { name, passed: false, detail: `${error.code}: ${error.message}` };
}

export async function selftestPack(pack: string, choice: string, files: string[]): Promise<PackReport> {
  const checks: PackReport['checks'] = [];
  let chosen: Awaited<ReturnType<typeof run>>;
  try {
    chosen = await run(pack, choice, files);
  } catch (error) {
    const coded = toTriageError(error);
    return {
      pack,
      provider: choice,
      images: 0,
      checks: [{ name: 'loads and runs', passed: false, detail: `${coded.code}: ${coded.message}` }],
      passed: false,
      imagesPerSecond: { chosen: 0, cpu: 0 },
    };
  }
  checks.push({
    name: 'loads and runs',
    passed: true,
    detail: `${chosen.results.length} images on ${chosen.provider}${chosen.endpoint ? ` (server ${new URL(chosen.endpoint).host})` : ''}${chosen.fallbacks.length ? `; not available: ${chosen.fallbacks.join('; ')}` : ''}`,
  });
  const failed = chosen.results.filter((r) => r.status !== 'ok');
  checks.push({
    name: 'every sample analysed',
    passed: failed.length === 0,
    detail: failed.length === 0 ? 'all ok' : failed.map((r) => `${r.file}: ${r.status} ${r.reason ?? ''}`).join('; '),
  });

  const cpu = chosen.provider === 'cpu' ? chosen : await run(pack, 'cpu', files);
  const difference = maxDifference(chosen.results, cpu.results);
  const sameCalls = chosen.results.every((r, i) => positives(r).join() === positives(cpu.results[i]).join());
  checks.push({
    name: 'agrees with the CPU provider',
    passed: difference <= TOLERANCE && sameCalls,
    detail:
      chosen.provider === 'cpu'
        ? 'ran on the CPU itself'
        : `max |difference| ${difference.toExponential(2)} (tolerance ${TOLERANCE}); positive calls ${sameCalls ? 'identical' : 'differ'}`,
  });
  const analysed = chosen.results.filter((r) => r.status === 'ok').map((r) => r.file);
  // On a KServe server the maps come from the same server (the choice names it).
  const camProvider = chosen.provider === 'kserve' ? (choice as ProviderChoice) : chosen.provider;
  checks.push(await camCheck(chosen.models, camProvider, analysed));

  const recordedPath = join(pack, SELFTEST_FILE);
  if (existsSync(recordedPath)) {
    const recorded = JSON.parse(readFileSync(recordedPath, 'utf8')) as RecordedResults;
    const mismatches: string[] = [];
    let compared = 0;
    for (const result of chosen.results) {
      const name = result.file.split(/[\\/]/).pop()!;
      const expected = recorded.samples[name];
      if (!expected) continue;
      compared++;
      if (positives(result).join() !== [...expected.positives].sort().join()) {
        mismatches.push(`${name}: got [${positives(result).join(', ')}], recorded [${expected.positives.join(', ')}]`);
      }
    }
    checks.push({
      name: 'findings as recorded at build time',
      passed: mismatches.length === 0 && compared > 0,
      detail:
        compared === 0
          ? 'no recorded sample matched'
          : mismatches.length === 0
            ? `${compared} of ${compared} images identical`
            : mismatches.join('; '),
    });
  }
  return {
    pack,
    provider: chosen.provider,
    images: files.length,
    checks,
    passed: checks.every((c) => c.passed),
    imagesPerSecond: { chosen: files.length / chosen.seconds, cpu: files.length / cpu.seconds },
  };
}

function table(reports: PackReport[]): string {
  const lines = ['pack                          provider  check                                  result  detail'];
  for (const report of reports) {
    for (const check of report.checks) {
      lines.push(
        `${report.pack.split(/[\\/]/).pop()!.padEnd(30)}${report.provider.padEnd(10)}${check.name.padEnd(39)}${(check.passed ? 'PASS' : 'FAIL').padEnd(8)}${check.detail}`,
      );
    }
    lines.push(
      `${''.padEnd(40)}speed: ${report.imagesPerSecond.chosen.toFixed(1)} images/s on ${report.provider}, ${report.imagesPerSecond.cpu.toFixed(1)} on the CPU`,
    );
  }
  const passed = reports.every((r) => r.passed);
  lines.push(passed ? `SELFTEST PASSED (${reports.length} pack${reports.length === 1 ? '' : 's'})` : 'SELFTEST FAILED');
  return lines.join('\n');
}

/**
 * Parses the options, runs every pack and prints the report (a table, or one JSON object with
 * --json) on stdout. Resolves to the exit code: 0 passed, 1 a check failed. Option errors throw
 * USAGE errors (the caller prints coded errors and exits 2).
 */
export async function runSelftest(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ep: { type: 'string', default: 'auto' },
      models: { type: 'string', multiple: true },
      samples: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!isProviderChoice(values.ep!)) usage(providerChoiceProblem(values.ep)!);
  const packs = values.models ?? installedPacks();
  if (packs.length === 0) usage('No model pack is installed under models/packs; name one with --models DIR.');
  const samplesDir = values.samples ?? resourcePath('models', 'samples', 'phantoms');
  const files = existsSync(samplesDir) ? sampleFiles(samplesDir) : [];
  if (files.length === 0) usage(`No sample images in ${samplesDir}; name a folder with --samples DIR.`);
  const reports: PackReport[] = [];
  for (const pack of packs) reports.push(await selftestPack(pack, values.ep!, files));
  if (values.json)
    process.stdout.write(
      `${JSON.stringify({ passed: reports.every((r) => r.passed), tolerance: TOLERANCE, reports })}\n`,
    );
  else process.stdout.write(`${table(reports)}\n`);
  return reports.every((r) => r.passed) ? 0 : 1;
}

/**
 * The self-test as a command, wherever it runs (`triage selftest`, the installed app's
 * --selftest): --help prints the options; a malformed option is a USAGE error carrying the help.
 * Resolves to the exit code (0 passed, 1 a check failed); coded errors are thrown for the caller
 * to report (exit code 2).
 */
export async function selftestCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${SELFTEST_HELP}\n`);
    return 0;
  }
  try {
    return await runSelftest(argv);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new TriageError('USAGE', `${(error as Error).message}\n\n${SELFTEST_HELP}`);
    }
    throw error;
  }
}
