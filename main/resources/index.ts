/**
 * Where bundled resources (model packs, the taxonomy) live: under the project folder in a
 * checkout or an npm install (found by walking up to package.json, which works from main/ under
 * tsx and from dist/main/ alike), or wherever TRIAGE_RESOURCES points (the packaged app sets it to
 * its resources folder).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the project folder (with package.json) was not found above the engine');
    dir = parent;
  }
  root = dir;
  return root;
}

export function resourcePath(...parts: string[]): string {
  return join(process.env.TRIAGE_RESOURCES ?? projectRoot(), ...parts);
}
