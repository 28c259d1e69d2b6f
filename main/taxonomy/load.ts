/**
 * Loading the bundled taxonomy. Synchronous on purpose: the file is 23 KB, read once per process
 * and cached, and synchronous access lets the pack loader's TermCheck and the ensemble call it
 * without threading a promise through.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TaxonomyError } from './errors.js';
import { parseTaxonomy } from './parse.js';
import type { Taxonomy } from './types.js';

/** Relative to the package root (development, tests) or Electron's resources folder (installed). */
export const TAXONOMY_FILE = join('models', 'taxonomy', 'padchest', 'trees_code.txt');

/** The folder holding package.json above this module: works from main/ (tsx) and dist/main/ (built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/**
 * The bundled tree file. In an installed app package.json sits inside app.asar while
 * electron-builder copies models/ to the resources folder, so that is tried second.
 */
export function defaultTaxonomyPath(): string {
  const inPackage = join(packageRoot(), TAXONOMY_FILE);
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (!existsSync(inPackage) && resources !== undefined && existsSync(join(resources, TAXONOMY_FILE))) {
    return join(resources, TAXONOMY_FILE);
  }
  return inPackage;
}

const cache = new Map<string, Taxonomy>();

/** Parses (once per path) and returns the taxonomy; failures are not cached, so a fix is seen. */
export function loadTaxonomy(path?: string): Taxonomy {
  const file = resolve(path ?? defaultTaxonomyPath());
  const cached = cache.get(file);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TaxonomyError('TAXONOMY_NOT_FOUND', `The PadChest taxonomy ${file} is missing or unreadable.`, { cause: error });
  }
  const taxonomy = parseTaxonomy(text, file);
  cache.set(file, taxonomy);
  return taxonomy;
}
