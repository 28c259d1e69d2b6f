/**
 * The independent references the tests compare against (and the fixture scripts and benchmarks
 * use), in one table: which program or Python module, and which Debian/Ubuntu package brings it.
 * `npm run test:tools` installs what is missing from here; a test that meets a missing one fails
 * with the exact command (a comparison that silently skips proves nothing).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Programs on the PATH, by the Debian/Ubuntu package that brings them. `tests`: a test runs it
 * (npm run test:tools installs these); the others only the fixture scripts and the benchmarks
 * run (npm run test:tools -- --all installs them too).
 */
export const REFERENCE_PROGRAMS: Record<string, { package: string; tests: boolean }> = {
  dcmcjpeg: { package: 'dcmtk', tests: true },
  dump2dcm: { package: 'dcmtk', tests: true },
  dcmj2pnm: { package: 'dcmtk', tests: true },
  dcmmkdir: { package: 'dcmtk', tests: true },
  dcmodify: { package: 'dcmtk', tests: true },
  dcmdjpeg: { package: 'dcmtk', tests: true },
  dcmdump: { package: 'dcmtk', tests: true },
  dsrdump: { package: 'dcmtk', tests: true },
  dcmconv: { package: 'dcmtk', tests: true },
  gdcmconv: { package: 'libgdcm-tools', tests: true },
  gdcmimg: { package: 'libgdcm-tools', tests: true },
  gdcmdump: { package: 'libgdcm-tools', tests: true },
  dciodvfy: { package: 'dicom3tools', tests: true },
  dcentvfy: { package: 'dicom3tools', tests: true },
  echoscu: { package: 'dcmtk', tests: true },
  storescu: { package: 'dcmtk', tests: true },
  storescp: { package: 'dcmtk', tests: true },
  Orthanc: { package: 'orthanc', tests: true },
  openssl: { package: 'openssl', tests: true },
  pngtopnm: { package: 'netpbm', tests: true },
  pngtopam: { package: 'netpbm', tests: true },
  ojph_compress: { package: 'openjph-tools', tests: false },
  ojph_expand: { package: 'openjph-tools', tests: false },
};

/** Files (plugins) the tests load, by the package that brings them. */
export const REFERENCE_FILES: Record<string, { package: string; tests: boolean }> = {
  '/usr/share/orthanc/plugins/libOrthancDicomWeb.so': { package: 'orthanc-dicomweb', tests: true },
  // The shared-scan tests' throwaway server (test/support/postgres.ts finds any version; this is
  // Debian 12's, the CI machine's).
  '/usr/lib/postgresql/15/bin/postgres': { package: 'postgresql', tests: true },
};

/** A file the tests load, or an Error naming the install command. */
export function requireFile(path: string): string {
  if (existsSync(path)) return path;
  const known = REFERENCE_FILES[path];
  throw new Error(
    `${path} is missing: ${known ? aptCommand([known.package]) : 'install it'} (or run npm run test:tools).`,
  );
}

/**
 * Modules of Debian's Python 3 (/usr/bin/python3): the exporter's cross-check against torch, the
 * demonstration pack's evidence against scikit-learn and the gate's SSIM against scikit-image in
 * the tests; pydicom for the patient identity's character sets in the tests and the decode benchmark.
 */
export const PYTHON = '/usr/bin/python3';
export const REFERENCE_PYTHON_MODULES: Record<string, { package: string; tests: boolean }> = {
  numpy: { package: 'python3-numpy', tests: true },
  torch: { package: 'python3-torch', tests: true },
  torchvision: { package: 'python3-torchvision', tests: true },
  onnx: { package: 'python3-onnx', tests: true },
  sklearn: { package: 'python3-sklearn', tests: true },
  scipy: { package: 'python3-scipy', tests: true },
  skimage: { package: 'python3-skimage', tests: true },
  pydicom: { package: 'python3-pydicom', tests: true },
};

/** Where a Chromium may be, first found wins (CHROMIUM_PATH names any Chromium or Chrome). */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];
export const CHROMIUM_PACKAGE = 'chromium';

/** The commands that install packages on Debian and Ubuntu (sudo unless this is root). */
export function aptCommand(packages: readonly string[], root = process.getuid?.() === 0): string {
  const sudo = root ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install --no-install-recommends ${[...new Set(packages)].sort().join(' ')}`;
}

/** The full path of a program on the PATH (PATHEXT on Windows), or null. */
/**
 * Where Debian puts daemons (Orthanc in /usr/sbin): searched after the PATH, which for a user
 * other than root often leaves them out.
 */
const SYSTEM_PROGRAM_DIRS = process.platform === 'win32' ? [] : ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const extensions = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of [...(env.PATH ?? '').split(delimiter), ...SYSTEM_PROGRAM_DIRS]) {
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

/**
 * Whether a Chromium runs: `--version` answers. (Ubuntu's chromium packages are stubs that
 * install a snap, and fail where there is no snapd.)
 */
function runs(path: string): boolean {
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return probe.status === 0 && /chrom/i.test(probe.stdout);
}

/** The Chromium the end-to-end tests drive, or an Error naming the install command. */
export function requireChromium(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    if (runs(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(
      `CHROMIUM_PATH names ${env.CHROMIUM_PATH}, which does not run (${env.CHROMIUM_PATH} --version fails).`,
    );
  }
  const present = CHROMIUM_CANDIDATES.filter((path) => existsSync(path));
  const found = present.find(runs);
  if (found) return found;
  if (present.length > 0) {
    throw new Error(
      `${present.join(' and ')} does not run (--version fails; on Ubuntu the package is a stub for a snap): ` +
        'set CHROMIUM_PATH to a Chromium or Chrome that runs.',
    );
  }
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
