/**
 * Builds the preload: one CommonJS file (a sandboxed preload can require only `electron` and a few
 * built-ins, never a local file) with the contract's channel and event names written in.
 * `npm run build` runs it after tsc: `node --import tsx main/app/shell/bundle-preload.ts`.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { API, API_EVENTS } from '../api/contract.js';

export const PRELOAD_SOURCE = fileURLToPath(new URL('../preload/preload.ts', import.meta.url));

export async function bundlePreload(outfile: string): Promise<void> {
  await build({
    entryPoints: [PRELOAD_SOURCE],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'browser',
    target: 'chrome130',
    external: ['electron'],
    define: {
      TRIAGE_CHANNELS: JSON.stringify(Object.keys(API)),
      TRIAGE_EVENTS: JSON.stringify(Object.keys(API_EVENTS)),
    },
    legalComments: 'none',
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile =
    process.argv[2] ?? fileURLToPath(new URL('../../../dist/main/app/preload/preload.cjs', import.meta.url));
  await bundlePreload(outfile);
}
