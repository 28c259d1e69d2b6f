/**
 * Loading the bundled taxonomy. Synchronous on purpose: the file is 23 KB, read once per process
 * and cached, and synchronous access lets the pack loader's TermCheck and the ensemble call it
 * without threading a promise through.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resourcePath } from '../resources/index.js';
import { TaxonomyError } from './errors.js';
import { parseTaxonomy } from './parse.js';
import type { Taxonomy } from './types.js';

/** Relative to the resources folder (the project folder, or the installed app's resources). */
export const TAXONOMY_FILE = join('models', 'taxonomy', 'padchest', 'trees_code.txt');

export function defaultTaxonomyPath(): string {
  return resourcePath(TAXONOMY_FILE);
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
    throw new TaxonomyError('TAXONOMY_NOT_FOUND', `The PadChest taxonomy ${file} is missing or unreadable.`, {
      cause: error,
    });
  }
  const taxonomy = parseTaxonomy(text, file);
  cache.set(file, taxonomy);
  return taxonomy;
}
