// Builds the renderer into dist/renderer/ (or `--out DIR`): app.js (the TypeScript bundled by esbuild, as a classic
// script: the CSP allows scripts from the app's origin only, no inline code), app.css, index.html
// and cornerstone-core's prebuilt script (the global `cornerstone`). The type check is separate
// (`tsc -p renderer/tsconfig.json`, part of `npm run build`).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : join(here, '..', 'dist', 'renderer');
const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'vendor'), { recursive: true });

await build({
  entryPoints: { app: join(here, 'src', 'main.ts') },
  outdir: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome120'],
  sourcemap: 'linked',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: { app: join(here, 'styles', 'app.css') },
  outdir: out,
  bundle: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'icon.svg'), join(out, 'icon.svg'));
copyFileSync(require.resolve('cornerstone-core/dist/cornerstone.min.js'), join(out, 'vendor', 'cornerstone.min.js'));
