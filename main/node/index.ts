/**
 * The DICOM node: a thin adapter between the hospital's DICOM network and the same engine,
 * store and worklist as `triage scan`.
 *
 *   modality / PACS --C-STORE--> Storage SCP (main/dimse) --durable file--> received instances
 *   --study stable for N s--> Scanner (the scan pipeline, the results store, the worklist)
 *   --each image analysed or rejected--> result objects (SR, SC) --> results folder + outbox
 *   --retried with backoff--> each destination (C-STORE, STOW-RS)
 *
 * Everything that must survive a restart is on disk: received instances (a restart triages what
 * was received and not yet triaged), the results store, the outbox. What it reports (events)
 * carries counts, AE titles and addresses, never patient data (a problem's message may name a
 * result file, whose path holds UIDs).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Analysis } from '../engine/index.js';
import { echo, parsePeer, peerName, startStorageScp, stowFiles, storeFiles } from '../dimse/index.js';
import type { AssociationEvent, DicomPeer, EchoOutcome, StorageScp, TlsOptions } from '../dimse/index.js';
import { toTriageError, TriageError } from '../errors/index.js';
import { resultObjectPath, resultObjectUid } from '../report/index.js';
import { Scanner } from '../scan/index.js';
import type { ScanOptions } from '../scan/index.js';
import { defaultDataDir, isDatabaseUrl, packFingerprint, packProvenance } from '../store/index.js';
import type { OutboxCounts, OutboxItem, ResultStore, StoredImage } from '../store/index.js';
import type { TriageRules } from '../triage/index.js';
import { ReceivedInstances, MAX_INSTANCE_BYTES } from './received.js';
import { isOwnResult, publishResultObjects } from './publish.js';
import type { PublishedObject } from './publish.js';
import { StudyClock } from './studies.js';

export { readInstanceHeader, ReceivedInstances, syncDirectory } from './received.js';
export type { InstanceHeader, KeptInstance } from './received.js';
export { StudyClock } from './studies.js';
export { isOwnResult, publishResultObjects } from './publish.js';
export type { PublishedObject } from './publish.js';

export type NodeDestination = { kind: 'dicom'; peer: DicomPeer } | { kind: 'stow'; url: string };

/**
 * Where a node keeps what it receives, beside its results database (the CLI's and the app's
 * alike): /data/triage.db -> /data/triage.received
 */
export function receivedFolder(database: string): string {
  // A database on a server: the files still arrive on this machine, in its data folder.
  if (isDatabaseUrl(database)) return join(defaultDataDir(), 'server.received');
  const path = resolve(database);
  return join(dirname(path), `${basename(path, extname(path))}.received`);
}

/** A STOW-RS destination: an http(s) DICOMweb root (USAGE otherwise). */
export function stowDestination(url: string): NodeDestination {
  const trimmed = url.trim();
  if (!/^https?:\/\/[^\s]+$/i.test(trimmed)) {
    throw new TriageError('USAGE', `"${trimmed}" is not a STOW-RS URL: write http(s)://HOST[:PORT]/PATH.`);
  }
  return { kind: 'stow', url: trimmed.replace(/\/+$/, '') };
}

/** A destination as a person writes it: AET@HOST:PORT (C-STORE) or an http(s) DICOMweb root (STOW-RS). */
export function parseDestination(text: string): NodeDestination {
  const trimmed = text.trim();
  return /^https?:\/\//i.test(trimmed) ? stowDestination(trimmed) : { kind: 'dicom', peer: parsePeer(trimmed) };
}

export function destinationName(destination: NodeDestination): string {
  return destination.kind === 'dicom' ? `dicom:${peerName(destination.peer)}` : `stow:${destination.url}`;
}

/** Writes an analysed or rejected image's result objects into `dir` (none for a non-DICOM source). */
export type ResultPublisher = (analysis: Analysis, dir: string) => Promise<PublishedObject[]>;

export interface DicomNodeOptions {
  aeTitle: string;
  host: string;
  port: number;
  allowedCallingAeTitles: readonly string[] | null;
  stableSeconds: number;
  /** Received instances (and the results, unless resultsDir). */
  dataDir: string;
  resultsDir?: string;
  destinations: readonly NodeDestination[];
  tls?: TlsOptions;
  engine: ScanOptions['engine'];
  store: ResultStore;
  rules: TriageRules;
  /** Writes each image's result objects (default: the SR and SC of main/report); null: none. */
  publish?: ResultPublisher | null;
  onEvent?(event: NodeEvent): void;
  /** Time per exchange with a destination. */
  sendTimeoutMs?: number;
}

export type NodeEvent =
  | { listening: { aet: string; host: string; port: number } }
  | { association: { calling: string; remote: string; accepted: boolean; reason: string | null } }
  | { received: { instances: number; duplicates: number; ownResults: number; refused: number } }
  | { triaged: { studies: number; analysed: number; ok: number; rejected: number; errors: number } }
  | { published: { images: number; objects: number; failed: number } }
  | { delivered: { destination: string; sent: number; failed: number; error: string | null } }
  | { problem: { message: string } }
  | { stopped: { received: number; triaged: number } };

export interface NodeStatus {
  aet: string;
  host: string;
  port: number;
  listening: boolean;
  received: { instances: number; duplicates: number; ownResults: number; refused: number };
  waiting: { studies: number; instances: number };
  triaged: { studies: number; images: number };
  triaging: boolean;
  /** Images on the worklist whose result objects are still to be written. */
  publishing: number;
  lastAssociation: { calling: string; remote: string; accepted: boolean; reason: string | null; at: string } | null;
  outbox: OutboxCounts[];
}

/** Seconds between outbox passes while nothing else wakes it. */
const OUTBOX_POLL_MS = 1_000;
/** Objects per association or STOW request. */
const SEND_BATCH = 20;
/**
 * Heatmaps held for result objects still to be written. Beyond it, an image's objects are written
 * before the next image is recorded (the triage then runs at the speed of its objects).
 */
const MAX_QUEUED_HEATMAP_BYTES = 256 * 1024 * 1024;
/** Images whose objects are written between two looks for studies ready to triage. */
const PUBLISH_CHUNK = 4;
/** Images analysed again at once to write objects lost to a crash. */
const REPUBLISH_CHUNK = 16;

export class DicomNode {
  private scp: StorageScp | null = null;
  private readonly clock: StudyClock;
  private readonly received: ReceivedInstances;
  private readonly resultsDir: string;
  private readonly counts = { instances: 0, duplicates: 0, ownResults: 0, refused: 0 };
  private readonly triagedCounts = { studies: 0, images: 0 };
  private lastAssociation: NodeStatus['lastAssociation'] = null;
  private triaging = false;
  private stopping = false;
  private readonly abort = new AbortController();
  private wakeTriage: (() => void) | null = null;
  private wakeOutbox: (() => void) | null = null;
  private loops: Promise<void>[] = [];
  /** Recorded images whose objects are not written yet, with their ensemble heatmaps. */
  private readonly publishQueue: Analysis[] = [];
  private queuedBytes = 0;
  /** Recorded images whose objects a previous run did not write (found at start). */
  private republish: string[] = [];
  private readonly publishedCounts = { images: 0, objects: 0, failed: 0 };
  private readonly publish: ResultPublisher | null;

  private constructor(private readonly options: DicomNodeOptions) {
    this.clock = new StudyClock(options.stableSeconds * 1000);
    this.received = new ReceivedInstances(options.dataDir, (header) => isOwnResult(header, options.store));
    this.publish = options.publish === undefined ? publishResultObjects : options.publish;
    this.resultsDir = options.resultsDir ?? join(options.dataDir, 'results');
  }

  /** Prepares the folders, queues what a previous run received and did not triage, and listens. */
  static async start(options: DicomNodeOptions): Promise<DicomNode> {
    const node = new DicomNode(options);
    await node.received.prepare();
    await mkdir(node.resultsDir, { recursive: true });
    const fingerprint = packFingerprint(packProvenance(options.engine.pack));
    // Only the instances not yet triaged have their headers read: a node that has received for
    // years starts with a listing and one lookup per instance.
    for await (const instance of node.received.kept()) {
      const stored = options.store.storedImage(instance.path);
      if (!stored) {
        node.clock.arrived(await node.received.studyOf(instance.path), instance.path, instance.arrivedAt);
      } else if (node.publish && node.lostObjects(stored, fingerprint)) {
        node.republish.push(instance.path);
      }
    }
    node.scp = await startStorageScp({
      aeTitle: options.aeTitle,
      host: options.host,
      port: options.port,
      allowedCallingAeTitles: options.allowedCallingAeTitles,
      incomingDir: node.received.incomingDir,
      maxInstanceBytes: MAX_INSTANCE_BYTES,
      tls: options.tls,
      onInstance: (spooled) => node.onInstance(spooled),
      onAssociation: (event) => node.onAssociation(event),
      onProblem: (message) => node.emit({ problem: { message } }),
    });
    node.loops = [node.triageLoop(), node.outboxLoop()];
    node.emit({ listening: { aet: options.aeTitle, host: options.host, port: node.scp.port } });
    return node;
  }

  get port(): number {
    return this.scp?.port ?? this.options.port;
  }

  status(): NodeStatus {
    return {
      aet: this.options.aeTitle,
      host: this.options.host,
      port: this.port,
      listening: this.scp !== null && !this.stopping,
      received: { ...this.counts },
      waiting: { studies: this.clock.waitingStudies, instances: this.clock.waitingInstances },
      triaged: { ...this.triagedCounts },
      triaging: this.triaging,
      publishing: this.publishQueue.length + this.republish.length,
      lastAssociation: this.lastAssociation,
      outbox: this.options.store.outbox.counts(),
    };
  }

  recentOutbox(limit = 50): OutboxItem[] {
    return this.options.store.outbox.recent(limit);
  }

  /** C-ECHO to a configured destination (a STOW-RS URL has no echo: null). */
  async echo(destination: NodeDestination): Promise<EchoOutcome | null> {
    if (destination.kind !== 'dicom') return null;
    return echo(destination.peer, { callingAeTitle: this.options.aeTitle, timeoutMs: 10_000 });
  }

  /** Stops listening (answers under way finish), ends the current triage after its batch, and the outbox pass. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.scp?.close();
    this.abort.abort();
    this.wakeTriage?.();
    this.wakeOutbox?.();
    await Promise.allSettled(this.loops);
    // Heatmaps in memory are the one thing a restart cannot recover cheaply: their objects are
    // written before the node exits (images found at the next start need their models again).
    while (this.publishQueue.length > 0) await this.publishNext();
    this.emitPublished();
    this.emit({ stopped: { received: this.counts.instances, triaged: this.triagedCounts.images } });
  }

  private emit(event: NodeEvent): void {
    this.options.onEvent?.(event);
  }

  private onAssociation(event: AssociationEvent): void {
    this.lastAssociation = {
      calling: event.callingAeTitle,
      remote: event.remoteAddress,
      accepted: event.accepted,
      reason: event.reason,
      at: event.at.toISOString(),
    };
    this.emit({
      association: {
        calling: event.callingAeTitle,
        remote: event.remoteAddress,
        accepted: event.accepted,
        reason: event.reason,
      },
    });
  }

  private async onInstance(spooled: Parameters<ReceivedInstances['keep']>[0]) {
    const { verdict, kept, ownResult } = await this.received.keep(spooled);
    if (ownResult) this.counts.ownResults++;
    else if (!verdict.kept) this.counts.refused++;
    else if (kept?.duplicate) this.counts.duplicates++;
    else if (kept) {
      this.counts.instances++;
      this.clock.arrived(kept.studyKey, kept.path, Date.now());
      this.wakeTriage?.();
    }
    this.emit({ received: { ...this.counts } });
    return verdict;
  }

  /** Sleeps until `ms` pass or something wakes it. */
  private sleep(ms: number, which: 'triage' | 'outbox'): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      if (which === 'triage') this.wakeTriage = done;
      else this.wakeOutbox = done;
    });
  }

  private async triageLoop(): Promise<void> {
    while (!this.stopping) {
      const now = Date.now();
      const stable = this.clock.takeStable(now);
      if (stable.length > 0) {
        this.triaging = true;
        try {
          await this.triage(stable);
        } catch (error) {
          // The store or engine failed: the instances stay on disk and are triaged at the next start.
          this.emit({ problem: { message: `triage failed: ${toTriageError(error).message}` } });
        } finally {
          this.triaging = false;
        }
        continue;
      }
      // Nothing to triage: the worklist is current; write the result objects it is owed, a few
      // at a time, looking for studies ready to triage in between.
      if (this.publishQueue.length > 0) {
        for (let n = 0; n < PUBLISH_CHUNK && this.publishQueue.length > 0; n++) await this.publishNext();
        if (this.publishQueue.length === 0) this.emitPublished();
        continue;
      }
      if (this.republish.length > 0) {
        try {
          await this.republishLost(this.republish.splice(0, REPUBLISH_CHUNK));
        } catch (error) {
          // The engine failed: those images keep their missing objects until the next start finds them.
          this.emit({ problem: { message: `result objects not rewritten: ${toTriageError(error).message}` } });
        }
        if (this.republish.length === 0) this.emitPublished();
        continue;
      }
      const next = this.clock.nextStableAt();
      await this.sleep(next === null ? 60_000 : next - now, 'triage');
    }
  }

  /**
   * Whether a recorded image's objects are missing from the results folder (a crash between its
   * record and their writing): only for results of the pack now in use, whose objects' names are
   * known from the source's SOP Instance UID and the pack's fingerprint.
   */
  private lostObjects(stored: StoredImage, fingerprint: string): boolean {
    if (stored.status !== 'ok' && stored.status !== 'rejected') return false;
    if (stored.packFingerprint !== fingerprint || !stored.sopInstanceUID || !stored.studyInstanceUID) return false;
    const sr = resultObjectPath(this.resultsDir, {
      studyInstanceUID: stored.studyInstanceUID,
      sopInstanceUID: resultObjectUid(stored.sopInstanceUID, fingerprint, 'sr'),
    });
    return !existsSync(sr);
  }

  /** Writes the next queued image's objects and queues them for every destination. */
  private async publishNext(): Promise<void> {
    const analysis = this.publishQueue.shift();
    if (!analysis) return;
    this.queuedBytes -= heatmapBytes(analysis);
    await this.publishNow(analysis);
  }

  private async publishNow(analysis: Analysis): Promise<void> {
    const publish = this.publish;
    if (!publish) return;
    try {
      const objects = await publish(analysis, this.resultsDir);
      for (const destination of this.options.destinations) {
        this.options.store.outbox.enqueue(destinationName(destination), objects);
      }
      this.publishedCounts.images++;
      this.publishedCounts.objects += objects.length;
      this.wakeOutbox?.();
    } catch (error) {
      this.publishedCounts.failed++;
      this.emit({ problem: { message: `result objects not written: ${toTriageError(error).message}` } });
    }
  }

  /** Analyses images again (their heatmaps were lost with a crash) and writes their objects. */
  private async republishLost(paths: string[]): Promise<void> {
    for await (const analysis of this.options.engine.analyze(paths, { heatmaps: true, signal: this.abort.signal })) {
      if (analysis.result.status === 'ok' || analysis.result.status === 'rejected') await this.publishNow(analysis);
    }
  }

  private emitPublished(): void {
    if (this.publishedCounts.images + this.publishedCounts.failed === 0) return;
    this.emit({ published: { ...this.publishedCounts } });
    this.publishedCounts.images = 0;
    this.publishedCounts.objects = 0;
    this.publishedCounts.failed = 0;
  }

  private async triage(stable: { studyKey: string; paths: string[] }[]): Promise<void> {
    const paths = stable.flatMap((study) => study.paths);
    const publish = this.publish;
    const scanner = new Scanner({
      roots: paths,
      engine: this.options.engine,
      store: this.options.store,
      rules: this.options.rules,
      signal: this.abort.signal,
      // Heatmaps are made only for result objects (the Secondary Capture shows them).
      heatmaps: publish !== undefined,
      // The worklist first: an image's objects are written once the node has nothing to triage,
      // its ensemble heatmaps kept until then (within MAX_QUEUED_HEATMAP_BYTES; beyond, written
      // at once). A crash loses those maps, not the objects: the next start finds the images
      // whose objects are missing and analyses them again.
      onAnalysis: publish
        ? async (analysis) => {
            if (analysis.result.status !== 'ok' && analysis.result.status !== 'rejected') return;
            const kept = ensembleOnly(analysis);
            const bytes = heatmapBytes(kept);
            if (this.queuedBytes + bytes > MAX_QUEUED_HEATMAP_BYTES) {
              await this.publishNow(kept);
              return;
            }
            this.publishQueue.push(kept);
            this.queuedBytes += bytes;
          }
        : undefined,
    });
    const summary = await scanner.run();
    this.triagedCounts.studies += stable.length;
    this.triagedCounts.images += summary.analysed;
    this.emit({
      triaged: {
        studies: stable.length,
        analysed: summary.analysed,
        ok: summary.ok,
        rejected: summary.rejected,
        errors: summary.errors,
      },
    });
  }

  private async outboxLoop(): Promise<void> {
    const byName = new Map(this.options.destinations.map((d) => [destinationName(d), d]));
    const names = [...byName.keys()];
    while (!this.stopping) {
      try {
        const due = this.options.store.outbox.due(names, new Date(), 200);
        if (due.length === 0) {
          const next = this.options.store.outbox.nextDue(names);
          const wait = next ? Math.min(OUTBOX_POLL_MS * 60, next.getTime() - Date.now()) : OUTBOX_POLL_MS * 60;
          await this.sleep(Math.max(wait, 50), 'outbox');
          continue;
        }
        const groups = new Map<string, OutboxItem[]>();
        for (const item of due) groups.set(item.destination, [...(groups.get(item.destination) ?? []), item]);
        for (const [name, items] of groups) {
          if (this.stopping) break;
          for (let at = 0; at < items.length; at += SEND_BATCH)
            await this.deliver(byName.get(name)!, items.slice(at, at + SEND_BATCH));
        }
      } catch (error) {
        // The database failed: said, and tried again after a pause (nothing is lost from the outbox).
        this.emit({ problem: { message: `outbox: ${toTriageError(error).message}` } });
        await this.sleep(OUTBOX_POLL_MS * 5, 'outbox');
      }
    }
  }

  private async deliver(destination: NodeDestination, all: OutboxItem[]): Promise<void> {
    const outbox = this.options.store.outbox;
    // A result file removed from the results folder cannot be sent, now or later.
    const missing = all.filter((item) => !existsSync(item.file));
    if (missing.length > 0) {
      outbox.markFailed(
        missing.map((item) => item.id),
        'the result file is missing from the results folder',
        true,
      );
    }
    const items = all.filter((item) => !missing.includes(item));
    if (missing.length > 0) {
      this.emit({
        delivered: {
          destination: destinationName(destination),
          sent: 0,
          failed: missing.length,
          error: 'the result file is missing from the results folder',
        },
      });
    }
    if (items.length === 0) return;
    const name = destinationName(destination);
    const timeoutMs = this.options.sendTimeoutMs ?? 30_000;
    let sent = 0;
    let failed = 0;
    let lastError: string | null = null;
    if (destination.kind === 'dicom') {
      const outcomes = await storeFiles(
        destination.peer,
        items.map((item) => item.file),
        { callingAeTitle: this.options.aeTitle, timeoutMs },
      );
      outcomes.forEach((outcome, index) => {
        const item = items[index];
        if (outcome.sent) {
          outbox.markSent([item.id]);
          sent++;
        } else {
          // A failure status for the object itself (0xA9xx: not matching its SOP class; 0xCxxx:
          // cannot understand) repeats on every try: it ends as failed. Anything else is retried.
          const final =
            outcome.status !== null && ((outcome.status & 0xff00) === 0xa900 || (outcome.status & 0xf000) === 0xc000);
          outbox.markFailed([item.id], outcome.detail ?? 'not sent', final);
          failed++;
          lastError = outcome.detail;
        }
      });
    } else {
      const outcome = await stowFiles(
        destination.url,
        items.map((item) => item.file),
        timeoutMs,
      );
      const ids = items.map((item) => item.id);
      if (outcome.sent) {
        outbox.markSent(ids);
        sent = ids.length;
      } else {
        // 4xx other than 408/429: the request itself is refused and would be again.
        const status = outcome.httpStatus;
        const final = status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429;
        outbox.markFailed(ids, outcome.detail ?? 'not sent', final);
        failed = ids.length;
        lastError = outcome.detail;
      }
    }
    this.emit({ delivered: { destination: name, sent, failed, error: lastError } });
  }
}

/** An analysis with only what its result objects need: the ensemble heatmaps (not each model's). */
function ensembleOnly(analysis: Analysis): Analysis {
  const heatmaps = new Map(
    [...analysis.heatmaps].map(([term, maps]) => [term, { ensemble: maps.ensemble, perModel: {} }]),
  );
  return { result: analysis.result, image: null, heatmaps };
}

function heatmapBytes(analysis: Analysis): number {
  let bytes = 0;
  for (const maps of analysis.heatmaps.values()) bytes += maps.ensemble.data.byteLength;
  return bytes;
}
