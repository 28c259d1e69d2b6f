/**
 * Where bundled resources (model packs, the taxonomy, the sample phantoms) live: wherever
 * TRIAGE_RESOURCES points; in an installed app, Electron's resources folder (electron-builder
 * copies models/ there, outside app.asar); otherwise under the project folder, found by walking
 * up to package.json (works from main/ under tsx and from dist/main/ alike).
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
  if (process.env.TRIAGE_RESOURCES) return join(process.env.TRIAGE_RESOURCES, ...parts);
  const electronResources = (process as { resourcesPath?: string }).resourcesPath;
  if (electronResources && existsSync(join(electronResources, ...parts))) return join(electronResources, ...parts);
  return join(projectRoot(), ...parts);
}
