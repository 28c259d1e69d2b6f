#!/usr/bin/env node
// The `triage` command. The TypeScript is compiled to dist/ by `npm ci` (the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    `${JSON.stringify({ error: { code: 'INTERNAL', message: 'The engine is not built; run "npm run build" in the project folder.', file: null } })}\n`,
  );
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
