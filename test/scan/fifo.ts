/**
 * Catching a reader that waits on a FIFO. Opening a FIFO to read the usual way blocks until a
 * writer comes, in one of libuv's threads, for ever: the test would hang and its process could
 * not exit. The watch looks at this process's threads (Linux: a thread blocked there sleeps in
 * the kernel's `wait_for_partner`); when one waits, it is noted, and the FIFO is opened for
 * writing and closed again so that the reader is let go (it reads an empty file). Code that
 * opens with O_NONBLOCK never sleeps there.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';

/** Replaces a file by a FIFO of the same name. */
export function swapForFifo(path: string): void {
  unlinkSync(path);
  execFileSync('mkfifo', [path]);
}

function threadsWaitingOnFifo(): number {
  let waiting = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${task}/wchan`, 'utf8') === 'wait_for_partner') waiting++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return waiting;
}

/** Watches until `stop()`, which says whether any thread of this process waited on the FIFO. */
export function watchFifo(fifo: string): { stop(): boolean } {
  let waited = false;
  const timer = setInterval(() => {
    if (threadsWaitingOnFifo() === 0) return;
    waited = true;
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: the reader went meanwhile.
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return waited || threadsWaitingOnFifo() > 0;
    },
  };
}
