/**
 * The wording of the results database's failures, by errno: each says what failed and what to do,
 * and names the path concerned. (The real failures are made in open-failures.integration.test.ts;
 * this covers the errnos no test can cause everywhere, such as EPERM and a used-up quota.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeStoreFailure, storeFailure } from '../../main/store/failures.js';

const DB = '/srv/triage/results.sqlite';
const errno = (code: string, path: string) => Object.assign(new Error(`${code}: failed, '${path}'`), { code, path });

describe('results database failures', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'EROFS',
      /^The results database \/srv\/triage\/results\.sqlite cannot be written: \/srv\/triage is on a read-only file system\. Choose a database on a writable disk with --db FILE\.$/,
    ],
    [
      'EACCES',
      /^Permission denied: this user may not write to \/srv\/triage, where .* Give the user write access to it, or choose another database with --db FILE\.$/,
    ],
    ['EPERM', /^Permission denied: /],
    ['ENOSPC', /^The disk holding the results database \/srv\/triage\/results\.sqlite is full\. Free some space on it/],
    ['EDQUOT', /is full \(this user’s quota is used up\)\. Free some space/],
    [
      'ENOTDIR',
      /^\/srv\/triage is a file, not a folder, so the results database .* cannot be kept under it\. Move that file away/,
    ],
    ['EISDIR', /^\/srv\/triage\/results\.sqlite is a folder, not a database file\. Name a file with --db FILE/],
    [
      'EIO',
      /^The results database .* cannot be opened or written \(EIO\)\. Check that \/srv\/triage exists and that this user may write to it/,
    ],
  ];
  for (const [code, expected] of cases) {
    test(`${code} is worded with what to do`, () => {
      assert.match(describeStoreFailure(DB, { code, path: '/srv/triage' }, 'detail'), expected);
    });
  }

  test('a Node errno error becomes DATABASE_FAILED with its wording, never "cannot create the folder"', () => {
    const error = storeFailure(DB, errno('EROFS', '/srv/triage'));
    assert.equal(error.code, 'DATABASE_FAILED');
    assert.equal(error.file, DB);
    assert.match(error.message, /read-only file system/);
    assert.doesNotMatch(error.message, /create/);
  });

  test('an SQL failure that is not about the file system keeps its own message', () => {
    const error = storeFailure(DB, new Error('UNIQUE constraint failed: images.path'));
    assert.equal(error.code, 'DATABASE_FAILED');
    assert.equal(error.message, `The results database ${DB} failed: UNIQUE constraint failed: images.path.`);
  });
});
