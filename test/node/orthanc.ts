/**
 * Orthanc as the test PACS: started headless on loopback ports with its own configuration and
 * storage in a scratch folder (never the system service's), with the DICOMweb plugin for
 * STOW-RS; its REST API to see what it holds and to make it push to the node.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireFile, requireProgram } from '../support/reference-tools.js';
import { freePort } from './node-process.js';

export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface Orthanc {
  aeTitle: string;
  dicomPort: number;
  httpPort: number;
  /** The DICOMweb root, for --stow. */
  dicomWeb: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  stop(): Promise<void>;
  log(): string;
}

/** Starts Orthanc; `node` is the triage node it knows as a modality (for pushes to it). */
export async function startOrthanc(dir: string, node?: { aeTitle: string; port: number }): Promise<Orthanc> {
  const program = requireProgram('Orthanc');
  requireFile(DICOMWEB_PLUGIN);
  const dicomPort = await freePort();
  const httpPort = await freePort();
  mkdirSync(join(dir, 'db'), { recursive: true });
  const config = {
    Name: 'triage-test',
    StorageDirectory: join(dir, 'db'),
    IndexDirectory: join(dir, 'db'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: 'ORTHANC',
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpBindAddress: '127.0.0.1',
    DicomBindAddress: '127.0.0.1',
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    DicomModalities: node ? { triage: [node.aeTitle, '127.0.0.1', node.port] } : {},
    DicomCheckCalledAet: true,
    StableAge: 1,
    ConcurrentJobs: 1,
  };
  const path = join(dir, 'orthanc.json');
  writeFileSync(path, JSON.stringify(config));
  const child: ChildProcess = spawn(program, [path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const base = `http://127.0.0.1:${httpPort}`;
  const request = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${route}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Orthanc ${method} ${route}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  };
  // It answers within a second or two: poll /system, bounded.
  for (let attempt = 0; ; attempt++) {
    try {
      await request('GET', '/system');
      break;
    } catch (error) {
      if (child.exitCode !== null || attempt > 100) {
        child.kill('SIGKILL');
        throw new Error(`Orthanc did not start: ${(error as Error).message}\n${log}`, { cause: error });
      }
      await sleep(200);
    }
  }
  return {
    aeTitle: 'ORTHANC',
    dicomPort,
    httpPort,
    dicomWeb: `${base}/dicom-web`,
    get: (route) => request('GET', route),
    post: (route, body) => request('POST', route, body),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
    log: () => log,
  };
}
