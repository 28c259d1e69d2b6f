/**
 * `npm run test:tools [-- --all]`: installs the reference tools the tests compare against (see
 * test/support/reference-tools.ts; with --all, also those only the fixture scripts and the
 * benchmarks use) on Debian and Ubuntu, with apt-get as root or through sudo. Elsewhere, or
 * without the right to install, it prints what is missing and the command, and exits 1. Nothing
 * is installed that is already there; with everything present it exits 0 at once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  aptCommand,
  CHROMIUM_PACKAGE,
  missingPythonModules,
  osFamilies,
  PYTHON,
  REFERENCE_FILES,
  REFERENCE_PROGRAMS,
  REFERENCE_PYTHON_MODULES,
  requireChromium,
  which,
} from './support/reference-tools.js';

function pythonProbe(code: string): boolean {
  return spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0;
}

/** With --all, also what only the fixture scripts and the benchmarks use. */
const all = process.argv.includes('--all');

function missingPackages(): string[] {
  const packages = new Set<string>();
  for (const [program, { package: name, tests }] of Object.entries(REFERENCE_PROGRAMS)) {
    if ((tests || all) && !which(program)) packages.add(name);
  }
  for (const [path, { package: name, tests }] of Object.entries(REFERENCE_FILES)) {
    if ((tests || all) && !existsSync(path)) packages.add(name);
  }
  const modules = Object.keys(REFERENCE_PYTHON_MODULES).filter(
    (module) => REFERENCE_PYTHON_MODULES[module].tests || all,
  );
  for (const module of missingPythonModules(modules, pythonProbe)) {
    packages.add(REFERENCE_PYTHON_MODULES[module].package);
  }
  try {
    requireChromium();
  } catch {
    packages.add(CHROMIUM_PACKAGE);
  }
  return [...packages].sort();
}

function run(command: string, args: string[]): void {
  console.log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) {
    console.error(`${command} failed (${result.error?.message ?? `exit ${result.status}`}).`);
    process.exit(1);
  }
}

const missing = missingPackages();
if (missing.length === 0) {
  console.log('Every reference tool the tests use is installed.');
  process.exit(0);
}
console.log(`The tests compare against tools this machine lacks: ${missing.join(', ')}.`);

const debianLike = osFamilies().some((family) => family === 'debian' || family === 'ubuntu');
const root = process.getuid?.() === 0;
const sudo = !root && which('sudo') !== null && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (!debianLike || (!root && !sudo)) {
  console.error(
    debianLike
      ? `Install them with:\n  ${aptCommand(missing)}`
      : `This script installs them on Debian and Ubuntu only. Here, install the programs ${Object.keys(REFERENCE_PROGRAMS).join(', ')}, ` +
          `Python 3 at ${PYTHON} with ${Object.keys(REFERENCE_PYTHON_MODULES).join(', ')}, and a Chromium (CHROMIUM_PATH names it).`,
  );
  process.exit(1);
}
const apt = (args: string[]) => (root ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
apt(['update', '-q']);
apt(['install', '-y', '-q', '--no-install-recommends', ...missing]);
const still = missingPackages();
if (still.length > 0) {
  console.error(`Still missing after the install: ${still.join(', ')}.`);
  process.exit(1);
}
console.log('Every reference tool the tests use is installed.');
