/**
 * What the engine reports for one radiograph: the analyze command prints it as one NDJSON line,
 * the app shows it, the store keeps it. Every result names the pack, the models, their versions,
 * file hashes and operating points, and the provider that produced it. Finding and
 * ModelProvenance are main/domain's, declared once there as zod schemas.
 */
import type { AnalysisStatus, Provider } from '../common/index.js';
import type { Finding, ModelProvenance } from '../domain/index.js';
import type { ErrorCode } from '../errors/index.js';

export interface Timings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  explainMs: number;
}

export interface AnalysisResult {
  file: string;
  status: AnalysisStatus;
  reason?: string;
  error?: { code: ErrorCode; message: string };
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  executionProvider: Provider;
  pack: { id: string; version: string; rule: string; demo: boolean };
  models: ModelProvenance[];
  notForClinicalUse: boolean;
  notes: string[];
  findings: Finding[];
  heatmaps?: Record<string, string>;
  timings: Timings;
}
