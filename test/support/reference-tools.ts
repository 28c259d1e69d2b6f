/**
 * The independent references the tests compare against (and the fixture scripts and benchmarks
 * use), in one table: which program or Python module, and which Debian/Ubuntu package brings it.
 * `npm run test:tools` installs what is missing from here; a test that meets a missing one fails
 * with the exact command (a comparison that silently skips proves nothing).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Programs on the PATH, by the Debian/Ubuntu package that brings them, and what uses them. */
export const REFERENCE_PROGRAMS: Record<string, { package: string; usedBy: string }> = {
  dcmcjpeg: { package: 'dcmtk', usedBy: 'conformance tests, fixtures, benchmarks' },
  dump2dcm: { package: 'dcmtk', usedBy: 'conformance tests, benchmarks' },
  dcmj2pnm: { package: 'dcmtk', usedBy: 'conformance tests' },
  dcmmkdir: { package: 'dcmtk', usedBy: 'conformance tests' },
  dcmdjpeg: { package: 'dcmtk', usedBy: 'fixtures, benchmarks' },
  dcmdump: { package: 'dcmtk', usedBy: 'fixtures, benchmarks' },
  dcmconv: { package: 'dcmtk', usedBy: 'fixtures, benchmarks' },
  gdcmconv: { package: 'libgdcm-tools', usedBy: 'conformance tests, fixtures, benchmarks' },
  gdcmimg: { package: 'libgdcm-tools', usedBy: 'conformance tests' },
  dciodvfy: { package: 'dicom3tools', usedBy: 'conformance tests, fixtures' },
  ojph_compress: { package: 'openjph-tools', usedBy: 'fixtures, benchmarks' },
  ojph_expand: { package: 'openjph-tools', usedBy: 'fixtures, benchmarks' },
  pngtopnm: { package: 'netpbm', usedBy: 'conformance tests, fixtures' },
  pngtopam: { package: 'netpbm', usedBy: 'conformance tests' },
};

/** Modules of Debian's Python 3 (/usr/bin/python3): the exporter's cross-check against torch. */
export const PYTHON = '/usr/bin/python3';
export const REFERENCE_PYTHON_MODULES: Record<string, { package: string }> = {
  numpy: { package: 'python3-numpy' },
  torch: { package: 'python3-torch' },
  torchvision: { package: 'python3-torchvision' },
  onnx: { package: 'python3-onnx' },
};

/** Where a Chromium may be, first found wins (CHROMIUM_PATH names any Chromium or Chrome). */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];
export const CHROMIUM_PACKAGE = 'chromium';

/** The command that installs packages on Debian and Ubuntu. */
export function aptCommand(packages: readonly string[]): string {
  return `sudo apt-get install --no-install-recommends ${[...new Set(packages)].sort().join(' ')}`;
}

/** The full path of a program on the PATH (PATHEXT on Windows), or null. */
export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const extensions = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const extension of extensions) {
      const candidate = join(dir, program + extension);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** A program the tests compare against, or an Error naming the install command. */
export function requireProgram(program: string): string {
  const found = which(program);
  if (found) return found;
  const known = REFERENCE_PROGRAMS[program];
  const how = known ? aptCommand([known.package]) : `install ${program}`;
  throw new Error(
    `${program} is not installed: ${how} (or run npm run test:tools, which installs every reference tool).`,
  );
}

/** The Chromium the end-to-end tests drive, or an Error naming the install command. */
export function requireChromium(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    if (existsSync(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(`CHROMIUM_PATH names ${env.CHROMIUM_PATH}, which does not exist.`);
  }
  const found = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  throw new Error(
    `Chromium is not installed: ${aptCommand([CHROMIUM_PACKAGE])} (or run npm run test:tools), or set CHROMIUM_PATH to a Chromium or Chrome.`,
  );
}

/** Python modules missing from Debian's Python 3 (all of them when there is no such Python). */
export function missingPythonModules(modules: readonly string[], probe: (code: string) => boolean): string[] {
  return modules.filter((module) => !probe(`import ${module}`));
}

/** The OS release's ID and ID_LIKE words (debian, ubuntu, ...), [] off Linux. */
export function osFamilies(path = '/etc/os-release'): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const field = (name: string) => new RegExp(`^${name}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
  return `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/).filter(Boolean);
}
