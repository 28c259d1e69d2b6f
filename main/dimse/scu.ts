/**
 * The node as a client: C-ECHO (is the peer there and does it accept us?) and C-STORE of the
 * product's result files, through dcmjs-dimse. Every call ends within its time budget with an
 * outcome per file; nothing here throws for a peer's failure.
 */
import dimse from 'dcmjs-dimse';
import type { requests, responses } from 'dcmjs-dimse';
import type { DicomPeer } from './destination.js';
import { quietLibrary } from './quiet.js';

const { Client } = dimse;
const { CEchoRequest, CStoreRequest } = dimse.requests;
const { Status } = dimse.constants;

export interface EchoOutcome {
  ok: boolean;
  /** Round trip, association included, ms. */
  ms: number;
  /** Why not, in words (no patient data): refused, unreachable, timed out. */
  detail: string | null;
}

export interface StoreOutcome {
  file: string;
  sent: boolean;
  /** The peer's status when it answered (0 is Success). */
  status: number | null;
  detail: string | null;
}

export interface ScuOptions {
  callingAeTitle: string;
  /** The whole exchange, association and release included. */
  timeoutMs?: number;
}

type Exchange<T> = { client: InstanceType<typeof Client>; finish: () => T };

/** Runs one association and settles once it closes, fails or times out. */
function exchange<T>(
  peer: DicomPeer,
  options: ScuOptions,
  setup: (client: InstanceType<typeof Client>) => Exchange<T>['finish'],
  failed: (detail: string) => T,
): Promise<T> {
  quietLibrary();
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise<T>((resolve) => {
    const client = new Client();
    let finish: () => T;
    try {
      finish = setup(client);
    } catch (error) {
      // The library reads a file to send as the request is made: a file gone is this exchange's failure.
      resolve(failed(`not sent: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    let settled = false;
    const settle = (value: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      try {
        client.abort();
      } catch {
        // No association yet: nothing to abort.
      }
      settle(failed(`no answer from ${peer.aeTitle} within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    client.on('associationRejected', (rejection: { result: number; source: number; reason: number }) =>
      settle(
        failed(
          `${peer.aeTitle} refused the association (reason ${rejection.reason}): is this node's AE title known to it?`,
        ),
      ),
    );
    // The library prefixes its messages with its connection's log id ("... -> Connection error: ...").
    client.on('networkError', (error: Error) =>
      settle(failed(`cannot reach ${peer.host}:${peer.port}: ${error.message.replace(/^.*-> /, '')}`)),
    );
    client.on('closed', () => settle(finish()));
    client.send(peer.host, peer.port, options.callingAeTitle, peer.aeTitle, {
      connectTimeout: timeoutMs,
      associationTimeout: timeoutMs,
      pduTimeout: timeoutMs,
    });
  });
}

export function echo(peer: DicomPeer, options: ScuOptions): Promise<EchoOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return exchange<EchoOutcome>(
    peer,
    options,
    (client) => {
      let status: number | null = null;
      const request = new CEchoRequest();
      request.on('response', (response: responses.CEchoResponse) => (status = response.getStatus()));
      client.addRequest(request);
      return () =>
        status === Status.Success
          ? { ok: true, ms: elapsed(), detail: null }
          : {
              ok: false,
              ms: elapsed(),
              detail:
                status === null ? `${peer.aeTitle} did not answer the echo` : `echo status 0x${status.toString(16)}`,
            };
    },
    (detail) => ({ ok: false, ms: elapsed(), detail }),
  );
}

/** C-STOREs the files in one association; each gets its own outcome. */
export function storeFiles(peer: DicomPeer, files: readonly string[], options: ScuOptions): Promise<StoreOutcome[]> {
  return exchange<StoreOutcome[]>(
    peer,
    options,
    (client) => {
      const statuses = new Map<string, number>();
      for (const file of files) {
        const request: requests.CStoreRequest = new CStoreRequest(file);
        request.on('response', (response: responses.CStoreResponse) => statuses.set(file, response.getStatus()));
        client.addRequest(request);
      }
      return () =>
        files.map((file) => {
          const status = statuses.get(file) ?? null;
          // Success, or a warning (0x0001, 0xB000 to 0xBFFF: stored with coercion or elements discarded).
          const sent =
            status !== null && (status === Status.Success || status === 0x0001 || (status & 0xf000) === 0xb000);
          return {
            file,
            sent,
            status,
            detail: sent
              ? null
              : status === null
                ? `${peer.aeTitle} did not accept this kind of object or did not answer`
                : `${peer.aeTitle} answered status 0x${status.toString(16).padStart(4, '0')}`,
          };
        });
    },
    (detail) => files.map((file) => ({ file, sent: false, status: null, detail })),
  );
}
