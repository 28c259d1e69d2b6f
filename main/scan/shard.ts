/**
 * Shards: one archive scanned by N machines (or N Kubernetes pods) at once, each into its own
 * database, merged afterwards (`triage merge`). Shard i of N (0-based) takes the files whose key
 * hashes to i: the key is the path relative to the PATH it was reached from (a folder PATH
 * itself; the folder holding a file PATH), with `/` between names. Relative, not absolute, so
 * that machines which mount the archive at different places still split it the same way;
 * decided from the walked name alone, so no file is read to decide and each file is read by one
 * shard only. SHA-256 of the key's UTF-8 (the scan's strings map every byte of a name, see
 * main/paths), its first 8 bytes as a number modulo N: the same on every platform and run.
 */
import { createHash } from 'node:crypto';
import { relative, sep } from 'node:path';
import { TriageError } from '../errors/index.js';

export interface Shard {
  /** 0-based: 0 to count - 1. */
  index: number;
  count: number;
}

/** The environment variable a Kubernetes Indexed Job sets in each pod: its index, from 0. */
export const JOB_INDEX_VARIABLE = 'JOB_COMPLETION_INDEX';

/** The most shards: more than any site runs machines, few enough to print. */
export const MAX_SHARDS = 10_000;

/** "i/N", as --shard takes it and summaries say it. */
export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

const whole = (text: string) => (/^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : null);

/**
 * `--shard i/N` (0 <= i < N), or `--shard auto/N`: i from JOB_COMPLETION_INDEX (a Kubernetes
 * Indexed Job). An explicit i that disagrees with a JOB_COMPLETION_INDEX that is set is refused:
 * every pod of a Job would otherwise scan the same shard.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const match = /^([^/]+)\/([^/]+)$/.exec(text.trim());
  const count = match ? whole(match[2]) : null;
  if (!match || count === null || count < 1 || count > MAX_SHARDS)
    throw new TriageError(
      'USAGE',
      `--shard takes i/N (this machine's shard i, from 0, of N; N from 1 to ${MAX_SHARDS}) or auto/N (i from ${JOB_INDEX_VARIABLE}), not "${text}".`,
    );
  const variable = env[JOB_INDEX_VARIABLE];
  const fromJob = variable === undefined || variable === '' ? null : whole(variable.trim());
  if (variable !== undefined && variable !== '' && fromJob === null)
    throw new TriageError('USAGE', `${JOB_INDEX_VARIABLE} must be a whole number from 0, not "${variable}".`);
  let index: number | null;
  if (match[1] === 'auto') {
    if (fromJob === null)
      throw new TriageError(
        'USAGE',
        `--shard auto/${count} takes the shard from ${JOB_INDEX_VARIABLE}, which is not set; give --shard i/${count} instead.`,
      );
    index = fromJob;
  } else {
    index = whole(match[1]);
    if (index === null)
      throw new TriageError('USAGE', `--shard takes i/N or auto/N with i a whole number from 0, not "${text}".`);
    if (fromJob !== null && fromJob !== index)
      throw new TriageError(
        'USAGE',
        `--shard says shard ${index} but ${JOB_INDEX_VARIABLE} is ${fromJob}; in an Indexed Job give --shard auto/${count}.`,
      );
  }
  if (index >= count)
    throw new TriageError('USAGE', `Shard ${index} of ${count} does not exist: shards are numbered 0 to ${count - 1}.`);
  return { index, count };
}

/** A walked path's shard key: the path relative to `base` (the folder its PATH names or holds), `/` between names. */
export function shardKey(base: string, path: string): string {
  const key = relative(base, path);
  return sep === '/' ? key : key.split(sep).join('/');
}

/** The shard (0 to count - 1) a key belongs to. */
export function shardOf(key: string, count: number): number {
  if (count === 1) return 0;
  const digest = createHash('sha256').update(key, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}
