// Runs the tests with Node's own test runner, TypeScript loaded by tsx (Node's --test picks up no
// .ts file by itself). A test file's tier is in its name: NAME.TIER.test.ts, plain NAME.test.ts
// being a unit test (CONTRIBUTING.md, "Tests"):
//
//   node test/run.mjs                   every tier
//   node test/run.mjs --tier unit       one tier (unit, integration, conformance, fuzz, e2e, packaging)
//   node test/run.mjs scan store        the files whose path contains one of the words
import { fileURLToPath } from 'node:url';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

export const TIERS = ['unit', 'integration', 'conformance', 'fuzz', 'e2e', 'packaging'];

export function tierOf(file) {
  const match = /\.([a-z0-9]+)\.test\.ts$/.exec(file);
  return match && TIERS.includes(match[1]) ? match[1] : 'unit';
}

const root = fileURLToPath(new URL('..', import.meta.url));

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const tierAt = args.indexOf('--tier');
const tier = tierAt >= 0 ? args[tierAt + 1] : null;
if (tierAt >= 0 && !TIERS.includes(tier)) {
  console.error(`--tier takes one of ${TIERS.join(', ')}`);
  process.exit(2);
}
const words = args.filter((_, i) => tierAt < 0 || (i !== tierAt && i !== tierAt + 1));

// A name with a dot that is no tier would silently land in the unit tier: refuse it.
const all = collect(join(root, 'test')).map((f) => relative(root, f));
const misnamed = all.filter((f) => /\.[a-z0-9]+\.test\.ts$/.test(f) && tierOf(f) === 'unit');
if (misnamed.length > 0) {
  console.error(`test files named for no tier (${TIERS.join(', ')}): ${misnamed.join(', ')}`);
  process.exit(2);
}

const files = all
  .filter((f) => tier === null || tierOf(f) === tier)
  .filter((f) => words.length === 0 || words.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${args.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
