/**
 * Durable receipt: a C-STORE's data set streams to a temporary file behind its File Meta
 * Information (so the file is a Part 10 file in the transfer syntax it arrived in, never
 * transcoded), is fsynced, and only then is handed on. Bytes beyond the instance budget are
 * counted and dropped, never buffered: the peer gets a failure status, the node keeps running.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';

export interface SpoolOutcome {
  /** The temporary file, complete and fsynced; null when it failed. */
  path: string | null;
  /** Data set bytes received (the File Meta Information not counted). */
  bytes: number;
  failure: 'too-large' | 'write-failed' | null;
  detail: string | null;
}

export class SpoolWriter extends Writable {
  readonly path: string;
  private handle: FileHandle | null = null;
  private received = 0;
  private failure: SpoolOutcome['failure'] = null;
  private detail: string | null = null;
  private readonly settled: Promise<SpoolOutcome>;
  private settle!: (outcome: SpoolOutcome) => void;

  constructor(
    directory: string,
    private readonly prefix: Uint8Array,
    private readonly limit: number,
    onLateWrite: () => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.path = join(directory, `${randomBytes(12).toString('hex')}.part`);
    this.settled = new Promise((resolve) => (this.settle = resolve));
    // Never an unhandled 'error' (it would end the process): a write after the end is a peer
    // sending its next command before this instance was answered (onLateWrite); anything else
    // fails this instance.
    this.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_STREAM_WRITE_AFTER_END') onLateWrite();
      else this.fail('write-failed', error);
    });
  }

  /** The file once the stream has ended (or failed): never rejects. */
  outcome(): Promise<SpoolOutcome> {
    return this.settled;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'wx', 0o600)
      .then(async (handle) => {
        this.handle = handle;
        await handle.write(this.prefix);
      })
      .then(
        () => callback(),
        (error: unknown) => {
          this.fail('write-failed', error);
          callback();
        },
      );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.received += chunk.length;
    if (this.failure || !this.handle) return callback();
    if (this.received > this.limit) {
      this.fail('too-large', `more than ${this.limit} bytes`);
      return callback();
    }
    // A write error is recorded, not raised: the library awaits 'drain' on this stream, and an
    // errored stream would stall the association instead of answering the peer.
    this.handle.write(chunk).then(
      () => callback(),
      (error: unknown) => {
        this.fail('write-failed', error);
        callback();
      },
    );
  }

  /**
   * The chunks that arrived while the previous write was under way, in one write: a peer's PDVs
   * are a PDU long (16 KiB from dcmtk by default), so a radiograph is hundreds of them.
   */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    const buffers = chunks.map((entry) => entry.chunk);
    const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    this.received += length;
    if (this.failure || !this.handle) return callback();
    if (this.received > this.limit) {
      this.fail('too-large', `more than ${this.limit} bytes`);
      return callback();
    }
    this.handle.writev(buffers).then(
      () => callback(),
      (error: unknown) => {
        this.fail('write-failed', error);
        callback();
      },
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    void this.finish().then(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.handle) {
      this.settle({ path: null, bytes: this.received, failure: this.failure ?? 'write-failed', detail: 'aborted' });
      return callback(error);
    }
    // The association ended mid-instance: nothing was acknowledged, the partial file goes.
    const handle = this.handle;
    this.handle = null;
    void handle
      .close()
      .catch(() => undefined)
      .then(() => unlink(this.path).catch(() => undefined))
      .then(() => {
        this.settle({ path: null, bytes: this.received, failure: 'write-failed', detail: 'the association ended' });
        callback(error);
      });
  }

  private fail(failure: NonNullable<SpoolOutcome['failure']>, detail: unknown): void {
    if (this.failure) return;
    this.failure = failure;
    this.detail = detail instanceof Error ? detail.message : String(detail);
  }

  private async finish(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle && !this.failure) {
      try {
        await handle.sync();
      } catch (error) {
        this.fail('write-failed', error);
      }
    }
    await handle?.close().catch(() => undefined);
    if (this.failure) {
      await unlink(this.path).catch(() => undefined);
      this.settle({ path: null, bytes: this.received, failure: this.failure, detail: this.detail });
    } else {
      this.settle({ path: this.path, bytes: this.received, failure: null, detail: null });
    }
  }
}
