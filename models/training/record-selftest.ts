/**
 * Records a pack's results on the bundled phantoms (CPU provider) as the pack's selftest.json,
 * which `triage selftest` compares against on every workstation. Run after building a pack:
 *   node --import tsx models/training/record-selftest.ts models/packs/demo
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../main/engine/index.js';
import { SELFTEST_FILE } from '../../main/selftest/index.js';
import type { RecordedResults } from '../../main/selftest/index.js';
import { resourcePath } from '../../main/resources/index.js';

const pack = process.argv[2];
if (!pack) {
  console.error('usage: node --import tsx models/training/record-selftest.ts PACK_DIR [SAMPLES_DIR]');
  process.exit(2);
}
const samplesDir = process.argv[3] ?? resourcePath('models', 'samples', 'phantoms');
const files = readdirSync(samplesDir)
  .filter((f) => /\.(dcm|png)$/.test(f))
  .sort()
  .map((f) => join(samplesDir, f));
const engine = await Engine.create({ models: pack, provider: 'cpu' });
const recorded: RecordedResults = {
  pack: { id: engine.pack.ensemble.id, version: engine.pack.ensemble.version },
  samples: {},
};
for await (const { result } of engine.analyze(files)) {
  const name = result.file.split(/[\\/]/).pop()!;
  const direct = result.findings.filter((f) => f.direct);
  const perModel: Record<string, Record<string, number>> = {};
  for (const finding of direct) perModel[`${finding.tree}:${finding.term}`] = finding.perModel;
  recorded.samples[name] = {
    positives: direct
      .filter((f) => f.positive)
      .map((f) => `${f.tree}:${f.term}`)
      .sort(),
    perModel,
  };
}
await engine.close();
writeFileSync(join(pack, SELFTEST_FILE), `${JSON.stringify(recorded, null, 2)}\n`);
console.log(`recorded ${files.length} samples in ${join(pack, SELFTEST_FILE)}`);
