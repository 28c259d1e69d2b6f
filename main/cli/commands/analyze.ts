/** `triage analyze FILE... [--models DIR] [--ep auto|cpu|webgpu|cuda|dml|coreml] [--heatmaps DIR] [--batch N] [--concurrency N] [--threads N]` */
import { parseArgs } from 'node:util';
import { Engine } from '../../engine/index.js';
import { isProviderChoice, PROVIDER_SYNOPSIS, providerChoiceProblem } from '../../inference/index.js';
import { DEFAULT_PACK } from '../../packs/index.js';
import { printJson } from '../output.js';
import { positiveInteger, threadOptionsHelp, usage } from '../usage.js';

export const ANALYZE_HELP = `triage analyze FILE... [--models DIR] [--ep ${PROVIDER_SYNOPSIS}] [--heatmaps DIR] [--batch N] [--concurrency N] [--threads N]

  Runs the model pack's ensemble on each radiograph and prints one JSON object per image (NDJSON):
  status ok, rejected (not a frontal chest radiograph: the reason says why) or error (a coded error).
  --models DIR    model pack folder (with ensemble.json); default: the bundled pack (${DEFAULT_PACK})
  --ep NAME       execution provider; auto tries the GPU providers, then falls back to the CPU
  --heatmaps DIR  write one PNG overlay per positive finding (the image's size, RGBA)
  --batch N       images per inference batch (default 8)
${threadOptionsHelp(18)}`;

export async function runAnalyze(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      models: { type: 'string' },
      ep: { type: 'string', default: 'auto' },
      heatmaps: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (positionals.length === 0) usage(`analyze needs at least one FILE.\n\n${ANALYZE_HELP}`);
  const provider = values.ep!;
  if (!isProviderChoice(provider)) usage(providerChoiceProblem(provider)!);
  const engine = await Engine.create({
    models: values.models ?? DEFAULT_PACK,
    provider,
    batchSize: values.batch === undefined ? undefined : positiveInteger(values.batch, '--batch'),
    decodeWorkers: values.concurrency === undefined ? undefined : positiveInteger(values.concurrency, '--concurrency'),
    threads: values.threads === undefined ? undefined : positiveInteger(values.threads, '--threads'),
  });
  try {
    for await (const analysis of engine.analyze(positionals, { heatmapsDir: values.heatmaps }))
      printJson(analysis.result);
  } finally {
    await engine.close();
  }
  return 0;
}
