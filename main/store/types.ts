/** The values the results store reads and writes (a whole result: main/domain's StoredResult). */
import type { ImageStatus, Priority, Provider, Verdict } from '../common/index.js';
import type { StoredResult, StudyIdentityRecord } from '../domain/index.js';
import type { PackProvenance } from './fingerprint.js';
import type { ErrorCode } from '../errors/index.js';

/** An image's identity on disk, as the scan saw it. */
export interface FileIdentity {
  path: string;
  sha256: string | null;
  size: number | null;
}

/** The row the scan consults to skip or de-duplicate a file. */
export interface ImageKey {
  id: number;
  path: string;
  sha256: string | null;
  packFingerprint: string;
  rulesFingerprint: string;
  status: ImageStatus;
  /** An error result's code (null otherwise). */
  errorCode: ErrorCode | null;
}

export interface ScanStart {
  roots: string[];
  provider: Provider;
  provenance: PackProvenance;
  rulesFingerprint: string;
  /** The shard this scan takes (`--shard i/N`, index from 0), or none: every file. */
  shard?: { index: number; count: number } | null;
}

export interface Feedback {
  id: number;
  file: string;
  term: string | null;
  tree: string | null;
  /** 'withdrawn' takes back the reader's earlier verdict on the same finding. */
  verdict: Verdict | 'withdrawn';
  note: string | null;
  createdAt: string;
}

/** A study, its patient and examination, and every (non-duplicate) image's full result, most urgent image first. */
export interface StoredStudy extends StudyIdentityRecord {
  study: string;
  studyInstanceUID: string | null;
  priority: Priority;
  results: StoredResult[];
}
