/**
 * The independent references the tests compare against, in one table: which program or Python
 * module, which Debian/Ubuntu package brings it, and which tier needs it. `npm run test:tools`
 * installs what is missing from here; a test that meets a missing one fails with the exact
 * command (a comparison that silently skips proves nothing).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Tier = 'unit' | 'integration' | 'conformance' | 'fuzz' | 'e2e' | 'packaging';

/** Programs on the PATH, by the Debian/Ubuntu package that brings them. */
export const REFERENCE_PROGRAMS: Record<string, { package: string; tiers: Tier[] }> = {
  dcmdjpeg: { package: 'dcmtk', tiers: ['conformance'] },
  dcmcjpeg: { package: 'dcmtk', tiers: ['conformance'] },
  dump2dcm: { package: 'dcmtk', tiers: ['conformance'] },
  dcmdump: { package: 'dcmtk', tiers: ['conformance'] },
  dcmj2pnm: { package: 'dcmtk', tiers: ['conformance'] },
  dcmconv: { package: 'dcmtk', tiers: ['conformance'] },
  img2dcm: { package: 'dcmtk', tiers: ['conformance'] },
  dcmmkdir: { package: 'dcmtk', tiers: ['conformance'] },
  gdcmconv: { package: 'libgdcm-tools', tiers: ['conformance'] },
  gdcmimg: { package: 'libgdcm-tools', tiers: ['conformance'] },
  dciodvfy: { package: 'dicom3tools', tiers: ['conformance'] },
  ojph_compress: { package: 'openjph-tools', tiers: ['conformance'] },
  pngtopnm: { package: 'netpbm', tiers: ['conformance'] },
  pngtopam: { package: 'netpbm', tiers: ['conformance'] },
};

/** Modules of Debian's Python 3 (/usr/bin/python3): the exporter's cross-check against torch. */
export const PYTHON = '/usr/bin/python3';
export const REFERENCE_PYTHON_MODULES: Record<string, { package: string; tiers: Tier[] }> = {
  numpy: { package: 'python3-numpy', tiers: ['conformance'] },
  torch: { package: 'python3-torch', tiers: ['conformance'] },
  torchvision: { package: 'python3-torchvision', tiers: ['conformance'] },
  onnx: { package: 'python3-onnx', tiers: ['conformance'] },
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
