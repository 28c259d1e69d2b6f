/**
 * The thread layout on the CPU provider: how many intra-op threads onnxruntime gets and how many
 * decode workers prepare files, chosen from what each stage was measured to cost per image, and
 * chosen again as a scan goes on (a folder of small PNGs and one of 10 MB DICOMs want opposite
 * layouts: with cheap decoding inference should have every core; with costly decoding the two
 * stages must share them).
 *
 * The model, per image: decoding costs `d` ms of one core (the decode workers' CPU time, measured);
 * inference costs `i1` ms of one core on one thread, and on t threads i1 / speedup(t) ms of wall
 * time and t times that of CPU. The pipeline's rate is bounded by each stage and by the cores:
 *
 *   rate(t, w) = min(1000 t-speedup / i1, w * 1000 / d, cores * 1000 / (d + t * i1 / speedup(t)))
 *
 * Decode workers run below normal priority, so more threads than cores only lets decoding take
 * what inference leaves: the cores bound covers that. Pure functions: the engine measures, these
 * decide.
 */

export interface ThreadLayout {
  /** onnxruntime's intra-op threads. */
  threads: number;
  /** Decode workers. */
  decodeWorkers: number;
}

/** What each stage cost per image over the last measurements. */
export interface StageCosts {
  /** CPU time of one core per image in the decode workers (read, decode, gate, preprocess). */
  decodeCpuMs: number;
  /** The models' `session.run` wall time per image (all members, the gate model), on `threads` threads. */
  inferenceMs: number;
  threads: number;
}

export interface LayoutChoice extends ThreadLayout {
  /** Images per second the model predicts for this layout, and for the current one. */
  predicted: number;
  current: number;
}

/**
 * onnxruntime's speed-up on t intra-op threads: each thread after the first adds 0.8 of one
 * (a DenseNet-121, batch 8, on 2 cores of the build VM: 28.4 ms per image on one thread, 15.5 on
 * two, a speed-up of 1.83).
 */
export function speedup(threads: number): number {
  return 1 + 0.8 * (threads - 1);
}

/** The rate (images/s) the model predicts for `layout` on `cores` cores with these costs. */
export function predictedRate(costs: StageCosts, layout: ThreadLayout, cores: number): number {
  const oneThreadMs = costs.inferenceMs * speedup(costs.threads);
  const inferenceWallMs = oneThreadMs / speedup(layout.threads);
  const inferenceCpuMs = inferenceWallMs * layout.threads;
  const bounds = [
    1000 / inferenceWallMs,
    costs.decodeCpuMs > 0 ? (layout.decodeWorkers * 1000) / costs.decodeCpuMs : Infinity,
    (cores * 1000) / (costs.decodeCpuMs + inferenceCpuMs),
  ];
  return Math.min(...bounds);
}

/** A new layout must promise this much more than the current one: a change costs (sessions are rebuilt). */
export const LAYOUT_GAIN = 1.1;

/**
 * The layout to run next: the one with the highest predicted rate among 1..cores threads and
 * 1..cores decode workers, the fewest threads and workers among those within 3 % of the best (less
 * memory, less contention than the model sees), kept only if it beats the current layout by
 * LAYOUT_GAIN; otherwise the current one.
 */
export function chooseLayout(costs: StageCosts, current: ThreadLayout, cores: number): LayoutChoice {
  const now = predictedRate(costs, current, cores);
  const candidates: Array<ThreadLayout & { rate: number }> = [];
  for (let threads = 1; threads <= cores; threads++)
    for (let decodeWorkers = 1; decodeWorkers <= cores; decodeWorkers++)
      candidates.push({ threads, decodeWorkers, rate: predictedRate(costs, { threads, decodeWorkers }, cores) });
  const best = Math.max(...candidates.map((c) => c.rate));
  if (!(best > 0) || !Number.isFinite(best)) return { ...current, predicted: now, current: now };
  const pick = candidates
    .filter((c) => c.rate >= best * 0.97)
    .sort((a, b) => a.threads + a.decodeWorkers - (b.threads + b.decodeWorkers) || a.threads - b.threads)[0];
  if (
    pick.rate >= now * LAYOUT_GAIN &&
    (pick.threads !== current.threads || pick.decodeWorkers !== current.decodeWorkers)
  )
    return { threads: pick.threads, decodeWorkers: pick.decodeWorkers, predicted: pick.rate, current: now };
  return { ...current, predicted: now, current: now };
}

/** Running totals the engine keeps: files prepared and their decode CPU, images inferred and their run time. */
export interface StageTotals {
  preparedFiles: number;
  preparedCpuMs: number;
  inferredImages: number;
  runMs: number;
}

/** A change of layout, as the engine's statistics report it. */
export interface LayoutChange extends ThreadLayout {
  /** Images the engine had handed out when it changed. */
  afterImages: number;
  /** The costs it was chosen from, and the rates predicted for it and for the layout before. */
  costs: StageCosts;
  predicted: number;
  previousPredicted: number;
}

/**
 * Chooses the layout again after every `window` images inferred on the current one: the first
 * batch on a layout is not counted (its sessions' first run sets up their memory), then the costs
 * over the window decide (chooseLayout). Holds no threads or workers itself: the engine applies.
 */
export class LayoutTuner {
  private since: StageTotals | null = null;
  private skipBatches = 1;

  constructor(
    private layout: ThreadLayout,
    private readonly cores: number,
    private readonly window = 32,
  ) {}

  get current(): ThreadLayout {
    return { ...this.layout };
  }

  /** After a batch's outputs came back: a new layout to apply, or null to keep the current one. */
  observe(totals: StageTotals): (LayoutChoice & { costs: StageCosts }) | null {
    if (this.skipBatches > 0 || !this.since) {
      this.skipBatches = Math.max(0, this.skipBatches - 1);
      this.since = { ...totals };
      return null;
    }
    const images = totals.inferredImages - this.since.inferredImages;
    const files = totals.preparedFiles - this.since.preparedFiles;
    if (images < this.window || files <= 0) return null;
    const costs: StageCosts = {
      decodeCpuMs: (totals.preparedCpuMs - this.since.preparedCpuMs) / files,
      inferenceMs: (totals.runMs - this.since.runMs) / images,
      threads: this.layout.threads,
    };
    this.since = { ...totals };
    // Nothing measured to choose from (a clock that went backwards, runs that took no time).
    if (!(costs.inferenceMs > 0) || !(costs.decodeCpuMs >= 0)) return null;
    const choice = chooseLayout(costs, this.layout, this.cores);
    if (choice.threads === this.layout.threads && choice.decodeWorkers === this.layout.decodeWorkers) return null;
    this.layout = { threads: choice.threads, decodeWorkers: choice.decodeWorkers };
    this.skipBatches = 1;
    return { ...choice, costs };
  }
}
