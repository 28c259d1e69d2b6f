/**
 * What the engine reports for one radiograph: the analyze command prints it as one NDJSON line,
 * the app shows it, the store keeps it. Every result names the pack, the models, their versions,
 * file hashes and operating points, and the provider that produced it.
 */
import type { ErrorCode } from '../errors/index.js';
import type { Provider } from '../inference/providers.js';

export interface ModelProvenance {
  id: string;
  version: string;
  sha256: string;
  /** Operating point per trained label, by label name. */
  operatingPoints: Record<string, number>;
}

export interface Finding {
  term: string;
  cui: string | null;
  tree: 'finding' | 'diagnosis';
  positive: boolean;
  /** False for a parent made positive by roll-up from a finding the models do call. */
  direct: boolean;
  votes: { positive: number; total: number };
  probability: { mean: number; min: number; max: number } | null;
  perModel: Record<string, number>;
  /** For rolled-up parents: the model findings below it that are positive. */
  supportedBy: string[];
  paths: string[][];
}

export interface Timings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  explainMs: number;
}

export interface AnalysisResult {
  file: string;
  status: 'ok' | 'rejected' | 'error';
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
