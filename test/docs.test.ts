/**
 * The documents that restate the code's vocabularies say what the code says: the error codes
 * table in docs/cli.md lists every code of main/common/error-codes.ts, with its meaning, in order.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../main/common/index.js';

test("docs/cli.md's error codes are ERROR_CODES, every code with its meaning, in order", () => {
  const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2].replace(/\\\|/g, '|')]);
  assert.deepEqual(rows, Object.entries(ERROR_CODES));
});
