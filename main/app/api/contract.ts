/**
 * The desktop app's API: the one list of what the renderer may ask of the main side, and what the
 * main side pushes to it. Electron's preload exposes exactly `window.triage: TriageApi`; the main
 * process validates every request against the schemas here before a handler sees it; the end-to-end
 * tests bridge the same API into a Chromium page. The renderer imports types only (`import type`),
 * so zod never ships to it and it never imports engine code.
 *
 * Every payload is structured-clonable (plain objects, arrays, strings, numbers, booleans, null,
 * ArrayBuffer), so handlers can run in a utility process or worker and answer through
 * postMessage or IPC unchanged. Pixels travel as ArrayBuffers, never as JSON arrays.
 *
 * Failures cross the boundary as `{ ok: false, error: { code, message } }` envelopes (see
 * ApiEnvelope): Electron's invoke() flattens thrown errors into a string and loses the code, and a
 * user must see the coded message, never a stack trace.
 */
import { z } from 'zod';
import { DIALOG_KINDS, SCAN_OUTCOMES } from '../../common/index.js';
import type { FindingSchema, PatientSchema } from '../../domain/index.js';
import {
  CurrentVerdictSchema,
  EvaluationSchema,
  PrioritySchema,
  ProviderSchema,
  ScanProgressSchema,
  RenderedImageSchema,
  StoredResultSchema,
  StudyIdentitySchema,
  TreeSchema,
  VerdictSchema,
  WorklistImageSchema,
  WorklistStudySchema,
} from '../../domain/index.js';

// ---------------------------------------------------------------------------------------------
// Building blocks (the domain's values are main/domain's schemas)

/** Absolute POSIX (`/...`) or Windows (`C:\...`, `\\server\share`) path, no NUL, bounded. */
export function isAbsolutePath(path: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\[^\\])/.test(path);
}

export const FilePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((path) => !path.includes('\0'), 'a path cannot contain a NUL character')
  .refine(isAbsolutePath, 'must be an absolute path');

/** A PadChest term as the taxonomy spells it. */
const Term = z.string().min(1).max(200);
const Empty = z.object({}).strict();
const Count = z.number().int().nonnegative();
export const ApiErrorPayload = z.object({ code: z.string(), message: z.string() });

/** How many roots a progress event names, of the running scan and of those waiting. */
export const SHOWN_ROOTS = 3;
const ShownRoots = z.array(z.string().max(4096)).max(SHOWN_ROOTS);

/**
 * What the window shows of scans. Every event carries it, so it stays small however many scans
 * wait and however many roots each has: counts, and the first few roots.
 */
export const ScanProgress = ScanProgressSchema.extend({
  running: z.boolean(),
  /** The first roots of the scan running (or of the last one). */
  roots: ShownRoots,
  /** How many roots that scan has. */
  rootCount: Count,
  /** How many scans wait for the running one to end. */
  queued: Count,
  /** The first roots of the waiting scans, in the order they will run. */
  queuedRoots: ShownRoots,
  /** How many roots the waiting scans have in all. */
  queuedRootCount: Count,
  /** The last scan's end: counts, or the error that stopped it. */
  last: z
    .object({
      outcome: z.enum(SCAN_OUTCOMES),
      files: Count,
      analysed: Count,
      errors: Count,
      rejected: Count,
      seconds: z.number(),
      error: ApiErrorPayload.nullable(),
    })
    .nullable(),
});

export const PackInfo = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  rule: z.string(),
  demo: z.boolean(),
  notForClinicalUse: z.boolean(),
  members: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      version: z.string(),
      architecture: z.string(),
      sha256: z.string(),
      notForClinicalUse: z.boolean(),
    }),
  ),
});

export const StatusInfo = z.object({
  /** The execution provider the engine runs on. */
  provider: ProviderSchema,
  /** GPU for every provider but the CPU one. */
  device: z.enum(['GPU', 'CPU']),
  /** Providers tried before the one in use, with why each could not be used. */
  providerAttempts: z.array(z.object({ provider: ProviderSchema, reason: z.string() })),
  pack: PackInfo,
  /** True whenever a demonstration pack (or a model marked so) is loaded: the banner shows. */
  notForClinicalUse: z.boolean(),
  database: z.string(),
  taxonomy: z.string(),
  scan: ScanProgress,
});

export const WorklistImage = WorklistImageSchema.extend({
  /** The file's name, for display. */
  name: z.string(),
});

export const WorklistStudy = WorklistStudySchema.extend({
  notForClinicalUse: z.boolean(),
  /** Findings the reader has accepted or rejected, over the study's images. */
  reviewed: Count,
  images: z.array(WorklistImage),
});

export const ImageResult = StoredResultSchema.pick({
  file: true,
  status: true,
  reason: true,
  error: true,
  duplicateOf: true,
  sopInstanceUID: true,
  priority: true,
  executionProvider: true,
  pack: true,
  models: true,
  notForClinicalUse: true,
  notes: true,
  findings: true,
  gate: true,
  scannedAt: true,
}).extend({
  /** The file's name, for display. */
  name: z.string(),
  feedback: z.array(CurrentVerdictSchema),
  /** Heatmaps can be computed: the result came from the pack loaded now. */
  heatmaps: z.boolean(),
});

/** One study for the viewer: its patient and examination (the header) and every image's result. */
export const StudyDetail = z.object({
  study: z.string(),
  studyInstanceUID: z.string().nullable(),
  priority: PrioritySchema,
  ...StudyIdentitySchema.shape,
  images: z.array(ImageResult),
});

/**
 * A decoded radiograph for the viewer: stored values (integers; modality = stored * slope +
 * intercept) with the display window the file asks for. Pixel Padding is replaced by a value
 * outside the image's range on the dark side, so it renders black under any sensible window.
 */
export const RenderedImage = RenderedImageSchema;

/**
 * A heatmap registered to the radiograph: cell (r, c) covers image pixels [c*scale, (c+1)*scale)
 * x [r*scale, (r+1)*scale) of an image `imageRows` x `imageColumns` (the engine may decode a
 * reduced resolution level: scale to the rendered image by its size ratio). Values 0..1.
 */
export const HeatmapData = z.object({
  file: z.string(),
  term: z.string(),
  tree: TreeSchema,
  /** null: the ensemble's map (mean over the members that voted positive). */
  model: z.string().nullable(),
  /** The members whose maps are available (those that voted positive). */
  members: z.array(z.string()),
  rows: z.number().int().positive(),
  columns: z.number().int().positive(),
  scale: z.number().positive(),
  imageRows: z.number().int().positive(),
  imageColumns: z.number().int().positive(),
  /** Float32 little-endian, rows x columns. */
  data: z.instanceof(ArrayBuffer),
  /** The hottest point, in the heatmap's image pixels. */
  peak: z.object({ x: z.number(), y: z.number(), value: z.number() }),
});

// ---------------------------------------------------------------------------------------------
// The DICOM node (main/node), run in the engine process beside the scans

/**
 * An AE title: 1 to 16 characters of the default character repertoire, no backslash, not all
 * spaces (main/dimse's isValidAeTitle, which the engine side applies again; a test checks both
 * agree).
 */
export const AeTitle = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]+$/, 'an AE title has printable characters only, no backslash')
  .refine((value) => value.trim().length > 0, 'an AE title cannot be all spaces');

/** `AET@HOST:PORT` (main/dimse's parsePeer, applied again on the engine side). */
export const PEER_PATTERN = /^([^@]+)@(\[[0-9a-fA-F:.]+\]|[^:@\s]+):(\d{1,5})$/;
/** A STOW-RS root, as `triage serve --stow` takes it. */
export const STOW_PATTERN = /^https?:\/\/[^\s]+$/;

export function isPeerText(text: string): boolean {
  const match = PEER_PATTERN.exec(text.trim());
  if (!match || !AeTitle.safeParse(match[1]).success) return false;
  const port = Number(match[3]);
  return port >= 1 && port <= 65535;
}

/** A destination of results: a C-STORE peer `AET@HOST:PORT` or a STOW-RS URL. */
export const DestinationText = z
  .string()
  .min(1)
  .max(300)
  .refine(
    (text) => isPeerText(text) || STOW_PATTERN.test(text),
    'a destination is AET@HOST:PORT (AE title up to 16 characters, port 1 to 65535) or an http(s) STOW-RS URL',
  );

/** An address to listen on: an IPv4 or IPv6 address or a host name (no scheme, no port). */
const ListenAddress = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([0-9A-Za-z.-]+|[0-9A-Fa-f:.]+)$/, 'an address is an IPv4 or IPv6 address or a host name');

/** Where the node listens unless the user explicitly chooses another address. */
export const LOOPBACK = '127.0.0.1';
export const MAX_NODE_DESTINATIONS = 16;
export const MAX_ALLOWED_AE_TITLES = 64;

/** The node's settings, as the panel edits them and the settings file keeps them. */
export const NodeSettings = z
  .object({
    aeTitle: AeTitle,
    /** 0: any free port (the node reports the one it got). */
    port: z.number().int().min(0).max(65535),
    host: ListenAddress,
    /** Calling AE titles allowed to associate; empty: any. */
    allowedCallingAeTitles: z.array(AeTitle).max(MAX_ALLOWED_AE_TITLES),
    stableSeconds: z.number().int().min(1).max(3600),
    destinations: z.array(DestinationText).max(MAX_NODE_DESTINATIONS),
    /** Start the node when the app starts (off unless the user turns it on). */
    startWithApp: z.boolean(),
  })
  .strict();

const NodeCounts = z.object({ instances: Count, duplicates: Count, ownResults: Count, refused: Count });

/** What the panel shows of a node: AE titles, addresses, counts and reasons, never patient data. */
export const NodeState = z.object({
  settings: NodeSettings,
  /** The settings file could not be used (INVALID_SETTINGS): the defaults are shown instead. */
  settingsError: ApiErrorPayload.nullable(),
  running: z.boolean(),
  /** Where it listens while running (the real port when the settings say 0). */
  listening: z.object({ aeTitle: z.string(), host: z.string(), port: z.number().int() }).nullable(),
  /** Since the node last started. */
  received: NodeCounts,
  waiting: z.object({ studies: Count, instances: Count }),
  triaged: z.object({ studies: Count, images: Count }),
  triaging: z.boolean(),
  lastAssociation: z
    .object({
      calling: z.string(),
      remote: z.string(),
      accepted: z.boolean(),
      reason: z.string().nullable(),
      at: z.string(),
    })
    .nullable(),
  /** Why the node could not start (with its code), or the last problem it reported (code null). */
  problem: z.object({ code: z.string().nullable(), message: z.string() }).nullable(),
  /** One row per configured destination and per destination the outbox still holds. */
  outbox: z.array(
    z.object({
      destination: z.string(),
      /** dicom: a C-STORE peer (it has a Test connection); stow: a STOW-RS URL. */
      kind: z.enum(['dicom', 'stow']),
      /** In the settings now (a destination removed from them keeps its rows, not its sending). */
      configured: z.boolean(),
      pending: Count,
      sent: Count,
      failed: Count,
      lastError: z.string().nullable(),
    }),
  ),
  /** The latest outbox items, newest first (kind, state, attempts, reason; no file or UID). */
  recent: z.array(
    z.object({
      destination: z.string(),
      kind: z.string(),
      state: z.enum(['pending', 'sent', 'failed']),
      attempts: Count,
      lastError: z.string().nullable(),
      createdAt: z.string(),
      sentAt: z.string().nullable(),
    }),
  ),
});

export const EchoResult = z.object({
  destination: z.string(),
  ok: z.boolean(),
  /** Round trip, association included. */
  ms: Count,
  /** Why not, in words: refused, unreachable, timed out. */
  detail: z.string().nullable(),
});

// ---------------------------------------------------------------------------------------------
// Validation (main/validation's runEvaluation), run in the engine process beside the scans

/** Where a validation stands: none yet, running, or how the last one ended. */
export const VALIDATION_STATES = ['idle', 'running', 'completed', 'failed', 'interrupted'] as const;
/** The most image folders one validation takes. */
export const MAX_VALIDATION_FOLDERS = 16;

/** A validation's progress and end, small enough for every event: counts, a coded error, the report's path. */
export const ValidationProgress = z.object({
  state: z.enum(VALIDATION_STATES),
  /** The images' scan: files done of the total (null until counted), rate, time left, analysed. */
  progress: ScanProgressSchema,
  /** Why it failed: the coded message (INVALID_LABELS, UNKNOWN_TERM, NOTHING_TO_EVALUATE...). */
  error: ApiErrorPayload.nullable(),
  /** The report (report.html) of the completed validation, beside its metrics.json and predictions.csv. */
  reportPath: z.string().nullable(),
});

/** The same with the completed validation's figures (metrics.json's content). */
export const ValidationState = ValidationProgress.extend({ evaluation: EvaluationSchema.nullable() });

// ---------------------------------------------------------------------------------------------
// Channels: renderer -> main, request and response

export const API = {
  /** Provider, pack, database, and the scan in progress: the status bar. */
  'status.get': { request: Empty, response: StatusInfo },
  /** The worklist, most urgent first (filtering and search happen in the renderer). */
  'worklist.list': {
    request: Empty,
    response: z.object({ studies: z.array(WorklistStudy), counts: z.record(PrioritySchema, Count) }),
  },
  /** One study with every image's full result, findings and the reader's feedback. */
  'study.get': { request: z.object({ study: z.string().min(1).max(4200) }).strict(), response: StudyDetail },
  /** Decoded pixels of one image in the store (never an arbitrary file). */
  'image.render': { request: z.object({ file: FilePath }).strict(), response: RenderedImage },
  /** The heatmap of one positive finding: the ensemble's or one member's. */
  'heatmap.get': {
    request: z
      .object({ file: FilePath, term: Term, tree: TreeSchema, model: z.string().min(1).max(200).nullable() })
      .strict(),
    response: HeatmapData,
  },
  /** Accept (agree), reject (disagree) or withdraw (null) the reader's verdict on a finding. */
  'feedback.set': {
    request: z.object({ file: FilePath, term: Term, tree: TreeSchema, verdict: VerdictSchema.nullable() }).strict(),
    response: z.object({ feedback: z.array(CurrentVerdictSchema) }),
  },
  /** Scan files or folders (dropped on the window) into the worklist; queued behind a running scan. */
  'scan.start': {
    request: z.object({ paths: z.array(FilePath).min(1).max(256) }).strict(),
    response: z.object({ accepted: z.array(z.string()), scan: ScanProgress }),
  },
  /** Stop the running scan after its current batch (everything done is kept); drops the queue. */
  'scan.cancel': { request: Empty, response: z.object({ cancelled: z.boolean(), scan: ScanProgress }) },
  /** The system's open dialog (files or a folder); what the user picks is scanned. */
  'dialog.open': {
    request: z.object({ kind: z.enum(DIALOG_KINDS) }).strict(),
    response: z.object({ paths: z.array(z.string()), scan: ScanProgress }),
  },
  /** The DICOM node's settings, state, counts and outbox. */
  'node.get': { request: Empty, response: NodeState },
  /** Saves the node's settings (the settings file); refused with NODE_RUNNING while it runs. */
  'node.configure': { request: z.object({ settings: NodeSettings }).strict(), response: NodeState },
  /** Starts the node with its saved settings (ADDRESS_IN_USE, NETWORK_FAILED when it cannot listen). */
  'node.start': { request: Empty, response: NodeState },
  /** Stops the node: no new association; what was received is kept and triaged at the next start. */
  'node.stop': { request: Empty, response: NodeState },
  /** C-ECHO to a configured C-STORE destination, with this node's AE title as the calling AE. */
  'node.echo': { request: z.object({ destination: DestinationText }).strict(), response: EchoResult },
  /** Puts a destination's failed outbox items back to pending, due now. */
  'node.retry': {
    request: z.object({ destination: z.string().min(1).max(320) }).strict(),
    response: z.object({ retried: Count, node: NodeState }),
  },
  /**
   * The open dialog for a validation: a folder of labelled images or the labels file (CSV). What
   * the user picks is granted to the window (for validation.start), never scanned; null: cancelled.
   */
  'validation.choose': {
    request: z.object({ kind: z.enum(['images', 'labels']) }).strict(),
    response: z.object({ path: z.string().nullable() }),
  },
  /**
   * Measures the pack on labelled images (granted paths only), in the background; refused with
   * VALIDATION_RUNNING while one runs. Its results database is the validations' own, never the worklist's.
   */
  'validation.start': {
    request: z.object({ images: z.array(FilePath).min(1).max(MAX_VALIDATION_FOLDERS), labels: FilePath }).strict(),
    response: ValidationState,
  },
  /** The validation running, or the last one's end with its figures. */
  'validation.get': { request: Empty, response: ValidationState },
  /** Stops the running validation (its analyses so far are kept for the next one); it ends interrupted. */
  'validation.cancel': {
    request: Empty,
    response: z.object({ cancelled: z.boolean(), validation: ValidationState }),
  },
  /** Opens the last completed validation's report.html in the system's browser (none: opened false). */
  'validation.openReport': {
    request: Empty,
    response: z.object({ opened: z.boolean(), reportPath: z.string().nullable() }),
  },
} as const;

// ---------------------------------------------------------------------------------------------
// Events: main -> renderer

export const API_EVENTS = {
  /** A scan's progress (throttled), its start and its end. */
  'scan.progress': ScanProgress,
  /** New or changed results are in the store: fetch the worklist again. */
  'worklist.changed': z.object({ studies: Count }),
  /** The DICOM node started, stopped, received, triaged or sent something: fetch node.get again. */
  'node.changed': z.object({ running: z.boolean() }),
  /** A validation started, progressed (throttled), or ended: fetch validation.get for its figures. */
  'validation.changed': ValidationProgress,
} as const;

// ---------------------------------------------------------------------------------------------
// Types

export type ApiChannel = keyof typeof API;
export type ApiRequest<C extends ApiChannel> = z.input<(typeof API)[C]['request']>;
export type ApiResponse<C extends ApiChannel> = z.output<(typeof API)[C]['response']>;
export type ApiEvent = keyof typeof API_EVENTS;
export type ApiEventPayload<E extends ApiEvent> = z.output<(typeof API_EVENTS)[E]>;
export type ApiError = z.output<typeof ApiErrorPayload>;

export type FindingData = z.output<typeof FindingSchema>;
export type FeedbackData = z.output<typeof CurrentVerdictSchema>;
export type ScanProgressData = z.output<typeof ScanProgress>;
export type StatusData = z.output<typeof StatusInfo>;
export type WorklistStudyData = z.output<typeof WorklistStudy>;
export type WorklistImageData = z.output<typeof WorklistImage>;
export type ImageResultData = z.output<typeof ImageResult>;
export type StudyData = z.output<typeof StudyDetail>;
export type PatientData = z.output<typeof PatientSchema>;
export type RenderedImageData = z.output<typeof RenderedImage>;
export type HeatmapDataType = z.output<typeof HeatmapData>;
export type NodeSettingsData = z.output<typeof NodeSettings>;
export type NodeStateData = z.output<typeof NodeState>;
export type EchoResultData = z.output<typeof EchoResult>;
export type ValidationProgressData = z.output<typeof ValidationProgress>;
export type ValidationStateData = z.output<typeof ValidationState>;
export type EvaluationData = z.output<typeof EvaluationSchema>;

/** What crosses a process boundary for one request: a value, or a coded error (never a stack trace). */
export type Envelope<T = unknown> = { ok: true; value: T } | { ok: false; error: ApiError };

/** The envelope of one channel's answer. */
export type ApiEnvelope<C extends ApiChannel> = Envelope<ApiResponse<C>>;

/** The object the preload exposes as `window.triage`. */
export interface TriageApi {
  /** Rejects with an Error carrying `code` (a main/errors code, or INVALID_REQUEST) on failure. */
  invoke<C extends ApiChannel>(channel: C, request: ApiRequest<C>): Promise<ApiResponse<C>>;
  /** Subscribes to a push event; returns the unsubscribe function. */
  on<E extends ApiEvent>(event: E, listener: (payload: ApiEventPayload<E>) => void): () => void;
  /**
   * The file system path of a File dropped on the window (Electron's webUtils.getPathForFile in the
   * preload; '' when it has none). The only way a path reaches the renderer besides the dialog.
   */
  pathForFile(file: File): string;
}

/** The main side: one async function per channel (plain Node, no Electron). */
export type ApiHandlers = {
  [C in ApiChannel]: (request: z.output<(typeof API)[C]['request']>) => Promise<ApiResponse<C>>;
};

/** How handlers push events (Electron: webContents.send; tests: the page bridge). */
export type ApiEmit = <E extends ApiEvent>(event: E, payload: ApiEventPayload<E>) => void;

export function isApiChannel(value: unknown): value is ApiChannel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(API, value);
}

export function isApiEvent(value: unknown): value is ApiEvent {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(API_EVENTS, value);
}
