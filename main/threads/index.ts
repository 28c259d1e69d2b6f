/**
 * Starting a worker thread from a module next to the caller. Built code runs `worker.js`
 * directly. From TypeScript sources (tests, development under tsx) Node 20 does not pass tsx's
 * loader on to workers, so the worker first registers tsx itself, then imports the module.
 */
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
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

/**
 * Stops listening to a worker that is being ended: what it still sends is dropped, and an error it
 * still raises (its heap ceiling, met before terminate() takes effect) is not an 'error' event
 * without a listener, which would end the process.
 */
export function detach(worker: Worker): void {
  worker.removeAllListeners();
  worker.on('error', ignore);
}

function ignore(): void {}

/**
 * Asks a worker to finish (`closeMessage`: it ends its port after the work it holds) and resolves
 * once it has exited; a worker that has not exited after `graceMs` is terminated.
 */
export function stopWorker(worker: Worker, closeMessage: unknown, graceMs = 5000): Promise<void> {
  // An error while it finishes (its heap ceiling, say) ends in 'exit' all the same.
  worker.on('error', ignore);
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resolve()), graceMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.postMessage(closeMessage);
  });
}

/**
 * Lowers the calling thread's scheduling priority (Linux: per-thread nice, below normal). A
 * thread that feeds a faster stage's queue (the decode workers feeding CPU inference) then takes
 * only the CPU time the stage it feeds leaves; when nothing else wants the CPU it runs at full
 * speed, since priority only decides who runs when threads compete. Elsewhere (Windows and macOS
 * set priorities per process, not per thread) this does nothing. Returns whether it was lowered.
 */
export function lowerThreadPriority(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    // "<pid>/task/<tid>": the kernel's id of this thread, which setpriority accepts on Linux.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, constants.priority.PRIORITY_BELOW_NORMAL);
    return true;
  } catch {
    return false; // a sandbox without /proc, or a refusal: the thread keeps its priority
  }
}
