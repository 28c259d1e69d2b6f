/**
 * Ctrl-C (SIGINT) and SIGTERM (a service manager, `kill`) stop a long job the same way: after the
 * current batch, everything done kept, exit code 130. A second signal stops at once (each result
 * is its own transaction: nothing written is lost).
 */
export const EXIT_INTERRUPTED = 130;

/** Listens for the signals until `dispose`; `signal` aborts on the first. */
export function listenForInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const interrupt = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    },
  };
}
