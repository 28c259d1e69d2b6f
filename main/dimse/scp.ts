/**
 * The node's Verification and Storage SCP, on dcmjs-dimse (the protocol is the library's; this
 * file decides what is accepted and when a C-STORE is answered). The listening socket is our own
 * so that it binds to the address asked for (the library's Server listens on every interface).
 *
 * A C-STORE is answered only after `onInstance` has made the received file durable: Success
 * then means the instance is on disk.
 */
import { mkdir, unlink } from 'node:fs/promises';
import { createServer as createTcpServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import dimse from 'dcmjs-dimse';
import type { association as associationTypes, requests, responses } from 'dcmjs-dimse';
import { TriageError } from '../errors/index.js';
import { filePrefix } from './file-meta.js';
import { quietLibrary } from './quiet.js';
import {
  chooseTransferSyntax,
  isValidAeTitle,
  isValidUid,
  RADIOGRAPH_SOP_CLASSES,
  VERIFICATION_SOP_CLASS,
} from './sop-classes.js';
import { SpoolWriter } from './spool.js';
import type { SpoolOutcome } from './spool.js';

const { Scp, Dataset } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { Status, PresentationContextResult, RejectResult, RejectSource, RejectReason } = dimse.constants;

/** C-STORE failure statuses (PS3.4 Annex B.2.3). */
const STATUS_OUT_OF_RESOURCES = 0xa700;
const STATUS_CANNOT_UNDERSTAND = 0xc000;

/** Associations open at once; more are refused by the listener. */
const MAX_ASSOCIATIONS = 32;

/** The largest P-DATA PDU the node announces and accepts (its value, without the 6-byte header). */
export const MAX_PDU_LENGTH = 256 * 1024;
/** The largest PDU of any other type (an association request is a few kilobytes). */
const MAX_OTHER_PDU_LENGTH = 64 * 1024;

/**
 * Reads the PDU headers in a connection's byte stream before the library does (which gathers a
 * whole PDU in memory, up to the 4 GiB its header may claim) and closes the connection on a PDU
 * larger than the node accepts: a P-DATA-TF beyond MAX_PDU_LENGTH, anything else beyond
 * MAX_OTHER_PDU_LENGTH.
 */
export function guardPduLengths(socket: Socket | TLSSocket, refuse: () => void): void {
  const header = Buffer.alloc(6);
  let headerBytes = 0;
  let remaining = 0;
  const onData = (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (remaining > 0) {
        const skip = Math.min(remaining, chunk.length - at);
        remaining -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(6 - headerBytes, chunk.length - at);
      chunk.copy(header, headerBytes, at, at + take);
      headerBytes += take;
      at += take;
      if (headerBytes < 6) return;
      headerBytes = 0;
      const type = header[0];
      const length = header.readUInt32BE(2);
      if (length > (type === 0x04 ? MAX_PDU_LENGTH : MAX_OTHER_PDU_LENGTH)) {
        socket.off('data', onData);
        refuse();
        return;
      }
      remaining = length;
    }
  };
  socket.prependListener('data', onData);
}

export interface TlsOptions {
  key: Buffer;
  cert: Buffer;
  /** Trusted peer certificates: with them, a peer must present one (mutual TLS). */
  ca?: Buffer;
}

/** An instance received and written, before it is accepted. */
export interface SpooledInstance {
  /** The complete, fsynced temporary file (Part 10, the transfer syntax it arrived in). */
  temporaryPath: string;
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  callingAeTitle: string;
  bytes: number;
}

/** What became of an instance: kept, a copy of one kept, or refused (with why, for the peer). */
export type InstanceVerdict =
  | { kept: true; duplicate: boolean }
  | { kept: false; status: 'out-of-resources' | 'cannot-understand'; comment: string };

export interface AssociationEvent {
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string;
  accepted: boolean;
  reason: string | null;
  at: Date;
}

export interface StorageScpOptions {
  aeTitle: string;
  host: string;
  port: number;
  /** Calling AE titles allowed to associate; null: any. */
  allowedCallingAeTitles: readonly string[] | null;
  /** Where instances are written while they arrive (the same file system as where they are kept). */
  incomingDir: string;
  /** The largest data set accepted, bytes. */
  maxInstanceBytes: number;
  tls?: TlsOptions;
  /** Makes a spooled instance durable where it belongs; the C-STORE is answered after it resolves. */
  onInstance(instance: SpooledInstance): Promise<InstanceVerdict>;
  onAssociation?(event: AssociationEvent): void;
  /** A peer's protocol error or a C-STORE that failed on our side (never patient data). */
  onProblem?(message: string): void;
}

export interface StorageScp {
  readonly host: string;
  readonly port: number;
  /** Stops listening, ends open associations, and waits for answers already under way. */
  close(): Promise<void>;
}

/** The per-connection SCP: dcmjs-dimse calls these methods as PDUs arrive. */
class NodeScp extends Scp {
  private association: associationTypes.Association | undefined;
  private readonly spools = new Map<requests.CStoreRequest, SpoolWriter>();

  constructor(
    readonly connection: Socket | TLSSocket,
    private readonly options: StorageScpOptions,
    private readonly pending: Set<Promise<void>>,
  ) {
    // connectTimeout: a peer that sends nothing at all; pduTimeout: one that stops mid-way.
    super(connection, { associationTimeout: 60_000, pduTimeout: 60_000, connectTimeout: 30_000 });
    // The library's own Server marks an accepted socket connected; with the time, its association
    // timeout also holds (a peer that never completes a PDU is dropped after it).
    Object.assign(this, { connected: true, connectedTime: Date.now() });
    guardPduLengths(connection, () => {
      this.options.onProblem?.('a peer announced a PDU larger than the node accepts: connection closed');
      this.abortAssociation();
    });
    this.on('close', () => {
      for (const writer of this.spools.values()) writer.destroy();
      this.spools.clear();
    });
  }

  override associationRequested(association: associationTypes.Association): void {
    this.association = association;
    const calling = association.getCallingAeTitle().trim();
    const called = association.getCalledAeTitle().trim();
    const event = (accepted: boolean, reason: string | null) =>
      this.options.onAssociation?.({
        callingAeTitle: calling,
        calledAeTitle: called,
        remoteAddress: this.connection.remoteAddress ?? '',
        accepted,
        reason,
        at: new Date(),
      });
    if (called !== this.options.aeTitle) {
      event(false, `called AE title ${called} is not ${this.options.aeTitle}`);
      this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
      return;
    }
    const allowed = this.options.allowedCallingAeTitles;
    if (allowed && !allowed.includes(calling)) {
      event(false, `calling AE title ${calling} is not on the allow-list`);
      this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
      return;
    }
    for (const summary of association.getPresentationContexts()) {
      const context = association.getPresentationContext(summary.id);
      const abstract = context.getAbstractSyntaxUid();
      if (abstract === VERIFICATION_SOP_CLASS) {
        const syntax = context
          .getTransferSyntaxUids()
          .find((uid) => uid === '1.2.840.10008.1.2' || uid === '1.2.840.10008.1.2.1');
        if (syntax) context.setResult(PresentationContextResult.Accept, syntax);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      } else if (abstract in RADIOGRAPH_SOP_CLASSES) {
        const syntax = chooseTransferSyntax(context.getTransferSyntaxUids());
        if (syntax) context.setResult(PresentationContextResult.Accept, syntax);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      } else {
        context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      }
    }
    event(true, null);
    // The largest PDU this node receives (announced in the accept; guardPduLengths holds peers to it).
    association.setMaxPduLength(MAX_PDU_LENGTH);
    this.sendAssociationAccept();
  }

  /** The peer aborted: nothing it sent unanswered is kept, and the connection ends at once. */
  override abort(): void {
    this.abortAssociation();
  }

  private abortAssociation(): void {
    for (const writer of this.spools.values()) writer.destroy();
    this.spools.clear();
    this.connection.destroy();
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    const response = CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    callback(response);
  }

  override createStoreWritableStream(
    context: associationTypes.PresentationContext,
    request: requests.CStoreRequest,
  ): SpoolWriter {
    const prefix = filePrefix({
      sopClassUID: request.getAffectedSopClassUid(),
      sopInstanceUID: request.getAffectedSopInstanceUid(),
      transferSyntaxUID: context.getAcceptedTransferSyntaxUid() ?? '',
      // Only a well-formed calling AE title is recorded in the file.
      sourceAeTitle: [this.association?.getCallingAeTitle().trim() ?? ''].find(isValidAeTitle) ?? '',
    });
    // Operations are not negotiated asynchronous: a peer that sends its next command before this
    // instance is answered breaks the protocol, and its association is aborted.
    const writer = new SpoolWriter(this.options.incomingDir, prefix, this.options.maxInstanceBytes, () => {
      this.options.onProblem?.('a peer sent a command before its C-STORE was answered: association aborted');
      this.abortAssociation();
    });
    this.spools.set(request, writer);
    return writer;
  }

  override createDatasetFromStoreWritableStream(
    writable: SpoolWriter,
    context: associationTypes.PresentationContext,
    callback: (dataset: InstanceType<typeof Dataset>) => void,
  ): void {
    // The data set stays on disk: the request carries an empty one, the file is the spool's.
    void writable.outcome().then(() => callback(new Dataset({}, context.getAcceptedTransferSyntaxUid())));
  }

  override cStoreRequest(
    request: requests.CStoreRequest,
    callback: (response: responses.CStoreResponse) => void,
  ): void {
    const writer = this.spools.get(request);
    this.spools.delete(request);
    const answer = (status: number, comment?: string) => {
      const response = CStoreResponse.fromRequest(request);
      response.setStatus(status);
      if (comment) response.setErrorComment(comment.slice(0, 64));
      callback(response);
    };
    const work = this.store(request, writer).then(
      (verdict) => {
        if (verdict.kept) answer(Status.Success);
        else {
          this.options.onProblem?.(`C-STORE refused: ${verdict.comment}`);
          answer(
            verdict.status === 'out-of-resources' ? STATUS_OUT_OF_RESOURCES : STATUS_CANNOT_UNDERSTAND,
            verdict.comment,
          );
        }
      },
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.options.onProblem?.(`C-STORE failed: ${message}`);
        answer(STATUS_OUT_OF_RESOURCES, 'the instance could not be kept');
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async store(request: requests.CStoreRequest, writer: SpoolWriter | undefined): Promise<InstanceVerdict> {
    if (!writer) return { kept: false, status: 'cannot-understand', comment: 'no data set was received' };
    const outcome: SpoolOutcome = await writer.outcome();
    if (!outcome.path) {
      return outcome.failure === 'too-large'
        ? { kept: false, status: 'out-of-resources', comment: 'the instance is larger than the node accepts' }
        : { kept: false, status: 'out-of-resources', comment: 'the instance could not be written' };
    }
    const sopInstanceUID = request.getAffectedSopInstanceUid();
    const sopClassUID = request.getAffectedSopClassUid();
    if (!isValidUid(sopInstanceUID) || !(sopClassUID in RADIOGRAPH_SOP_CLASSES)) {
      await unlink(outcome.path).catch(() => undefined);
      return { kept: false, status: 'cannot-understand', comment: 'invalid SOP Instance UID or SOP Class' };
    }
    const transferSyntaxUID =
      this.association?.getAcceptedPresentationContextFromRequest(request)?.getAcceptedTransferSyntaxUid() ?? '';
    return this.options.onInstance({
      temporaryPath: outcome.path,
      sopClassUID,
      sopInstanceUID,
      transferSyntaxUID,
      callingAeTitle: this.association?.getCallingAeTitle().trim() ?? '',
      bytes: outcome.bytes,
    });
  }
}

/** Listens on host:port; resolves once listening (ADDRESS_IN_USE or NETWORK_FAILED otherwise). */
export async function startStorageScp(options: StorageScpOptions): Promise<StorageScp> {
  quietLibrary();
  await mkdir(options.incomingDir, { recursive: true });
  const pending = new Set<Promise<void>>();
  const connections = new Set<NodeScp>();
  const accept = (socket: Socket | TLSSocket) => {
    const scp = new NodeScp(socket, options, pending);
    connections.add(scp);
    scp.on('close', () => connections.delete(scp));
    scp.on('networkError', (error: Error) => {
      options.onProblem?.(`network error: ${error.message}`);
      socket.destroy();
    });
  };
  const server: NetServer = options.tls
    ? createTlsServer(
        {
          key: options.tls.key,
          cert: options.tls.cert,
          ca: options.tls.ca,
          requestCert: options.tls.ca !== undefined,
          rejectUnauthorized: options.tls.ca !== undefined,
          minVersion: 'TLSv1.2',
        },
        accept,
      )
    : createTcpServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new TriageError(
              'ADDRESS_IN_USE',
              `Port ${options.port} on ${options.host} is already in use; choose another with --port.`,
            )
          : new TriageError('NETWORK_FAILED', `Cannot listen on ${options.host}:${options.port}: ${error.message}.`),
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  server.on('error', (error) => options.onProblem?.(`listener error: ${error.message}`));
  // Each association holds at most one instance being written; this bounds open files and memory.
  server.maxConnections = MAX_ASSOCIATIONS;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    host: options.host,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Answers under way finish (a file being made durable is not cut in half), then the
      // associations still open end: the listener closes once they have.
      await Promise.allSettled([...pending]);
      for (const scp of connections) scp.connection.destroy();
      await closed;
    },
  };
}
