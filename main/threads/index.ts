/**
 * Starting a worker thread from a module next to the caller. Built code runs `worker.js`
 * directly. From TypeScript sources (tests, development under tsx) Node 20 does not pass tsx's
 * loader on to workers, so the worker first registers tsx itself, then imports the module.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';

/** `sibling('./worker', import.meta.url)`: the .ts or .js file, whichever the caller is. */
export function sibling(stem: string, callerUrl: string): URL {
  return new URL(`${stem}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
