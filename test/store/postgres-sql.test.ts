/**
 * The server store's SQL plumbing, without a server: SQLite's `?` parameters numbered for
 * PostgreSQL (never inside strings, quoted names or comments; PostgreSQL-only string syntax
 * refused), and the server schema kept at the same version as SQLite's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { numberedParameters } from '../../main/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../main/store/postgres-schema.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../main/store/schema.js';

test('? becomes $1, $2, ... outside strings, quoted names and comments', () => {
  assert.equal(
    numberedParameters(`SELECT ? AS x, '?' AS y, "a?" FROM t -- why?\nWHERE a = ? /* ? */ AND b = ?`),
    `SELECT $1 AS x, '?' AS y, "a?" FROM t -- why?\nWHERE a = $2 /* ? */ AND b = $3`,
  );
  assert.equal(numberedParameters(`SELECT 'it''s?', ?`), `SELECT 'it''s?', $1`);
  assert.equal(
    numberedParameters(`SELECT CASE WHEN ? THEN 'x' ELSE'y' END`),
    `SELECT CASE WHEN $1 THEN 'x' ELSE'y' END`,
  );
});

test('dollar-quoted and E strings are refused rather than misnumbered', () => {
  for (const sql of ['SELECT $$?$$', "SELECT E'it\\'s', ?", 'SELECT $tag$?$tag$'])
    assert.throws(() => numberedParameters(sql), /not supported/, sql);
});

test('the server schema reaches the version SQLite has, through the same numbers from 6 on', () => {
  assert.equal(POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version, SCHEMA_VERSION);
  assert.deepEqual(
    POSTGRES_MIGRATIONS.map((m) => m.version),
    MIGRATIONS.filter((m) => m.version >= 6).map((m) => m.version),
  );
});
