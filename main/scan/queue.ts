/**
 * A bounded first-in first-out queue between one producer and one consumer: `push` waits while
 * the queue is full, so a fast producer (walking, hashing) never runs more than `capacity` items
 * ahead of the engine and memory stays flat however large the folder.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;
  private most = 0;

  constructor(readonly capacity: number) {}

  /** The most items ever queued at once (never above capacity). */
  get highWater(): number {
    return this.most;
  }

  get size(): number {
    return this.items.length;
  }

  get done(): boolean {
    return this.closed && this.items.length === 0;
  }

  /** Adds an item, waiting for room; false when the queue was closed (the consumer gave up). */
  async push(item: T): Promise<boolean> {
    while (!this.closed && this.items.length >= this.capacity) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    if (this.closed) return false;
    this.items.push(item);
    if (this.items.length > this.most) this.most = this.items.length;
    this.wake('consumer');
    return true;
  }

  /** No more items will come (producer), or none are wanted any more (consumer). */
  close(): void {
    this.closed = true;
    this.wake('consumer');
    this.wake('producer');
  }

  private wake(who: 'consumer' | 'producer'): void {
    const wake = who === 'consumer' ? this.wakeConsumer : this.wakeProducer;
    if (who === 'consumer') this.wakeConsumer = null;
    else this.wakeProducer = null;
    wake?.();
  }

  private async waitForItems(count: number, lingerMs: number): Promise<void> {
    const deadline = Date.now() + lingerMs;
    while (!this.closed && this.items.length < count) {
      const left = this.items.length === 0 ? Infinity : deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
        if (Number.isFinite(left)) setTimeout(resolve, left);
      });
    }
  }

  /**
   * Up to `max` items: waits for the first one, then up to `lingerMs` for the rest (a full chunk
   * keeps the engine's batches full; a partial one keeps a trickle of new files moving).
   * An empty array means the queue is closed and drained.
   */
  async take(max: number, lingerMs: number): Promise<T[]> {
    await this.waitForItems(max, lingerMs);
    const taken = this.items.splice(0, max);
    if (taken.length > 0) this.wake('producer');
    return taken;
  }
}
