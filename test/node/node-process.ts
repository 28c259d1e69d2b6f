/**
 * `triage serve` as a child process, as a service manager runs it: its listening line, its
 * NDJSON events, and ways to wait on them.
 */
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { requireProgram } from '../support/reference-tools.js';

const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  port: number;
  events: Record<string, unknown>[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** The first event (now or later) that passes the check. */
  waitFor(check: (event: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

export async function startNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const events: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters: { check: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] =
    [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.check(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
  });
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) resolve((JSON.parse(line) as { listening: { port: number } }).listening.port);
    });
    void exited.then((code) => reject(new Error(`triage serve exited (${code}) before listening:\n${err}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const port = await listening.finally(() => clearTimeout(timeout));
  return {
    child,
    port,
    events,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(check, ms = 60_000) {
      const found = events.find(check);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no such event within ${ms} ms; events:\n${events.map((e) => JSON.stringify(e)).join('\n')}\n${err}`,
              ),
            ),
          ms,
        );
        waiters.push({
          check,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
}

/** A TCP port free on 127.0.0.1 now (for peers that need theirs in a config file). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Stops the node as a service manager does (SIGTERM) and returns its exit code. */
export async function stopNode(node: NodeProcess): Promise<number | null> {
  if (node.child.exitCode !== null) return node.child.exitCode;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 30_000);
  const code = await node.exited;
  clearTimeout(timer);
  return code;
}

/** `triage serve` as the tests run it: AE title TRIAGE, any free port, CPU, 1 s to stability. */
export function nodeArgs(
  db: string,
  extra: string[] = [],
  options: { port?: number; stableSeconds?: number } = {},
): string[] {
  return [
    ...['--aet', 'TRIAGE', '--port', String(options.port ?? 0), '--db', db],
    ...['--stable-seconds', String(options.stableSeconds ?? 1), '--ep', 'cpu'],
    ...extra,
  ];
}

/**
 * The first moment the node's `kind` events, summed over `field` (those `where` accepts), reach
 * `total`: a study set triaged in several batches, objects delivered over several passes.
 */
export function eventTotal(
  node: NodeProcess,
  kind: string,
  field: string,
  total: number,
  options: { where?: (event: Record<string, unknown>) => boolean; ms?: number } = {},
): Promise<Record<string, unknown>> {
  let sum = 0;
  return node.waitFor((event) => {
    const body = event[kind] as Record<string, unknown> | undefined;
    if (body && (options.where?.(body) ?? true)) sum += Number(body[field]);
    return sum >= total;
  }, options.ms);
}

/** dcmtk's storescu pushing files to a peer on this machine, as a modality does. */
export function storescu(
  port: number,
  files: string[],
  options: { calling?: string; called?: string; extra?: string[] } = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    requireProgram('storescu'),
    [
      ...['-aet', options.calling ?? 'MODALITY', '-aec', options.called ?? 'TRIAGE'],
      ...(options.extra ?? []),
      ...['127.0.0.1', String(port), ...files],
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
