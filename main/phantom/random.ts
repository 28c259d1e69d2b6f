/**
 * Deterministic randomness for the phantoms. Every image draws from independent named streams
 * (patient, findings, acquisition, noise...) derived by hashing (seed, image index, stream name),
 * so an image never depends on how many images come before it, and removing one finding leaves
 * everything else about an image, its noise included, unchanged.
 */

/** 32-bit avalanche mix (the finaliser of MurmurHash3). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a sequence of numbers (any safe integer, or a float) and strings. */
export function hash32(...parts: readonly (number | string)[]): number {
  let h = 0x9e3779b9;
  const feed = (word: number): void => {
    h = mix32((h ^ (word >>> 0)) + 0x7f4a7c15);
  };
  for (const part of parts) {
    if (typeof part === 'string') {
      feed(0x51ed27 + part.length);
      for (let i = 0; i < part.length; i++) feed(part.charCodeAt(i));
    } else if (Number.isSafeInteger(part)) {
      feed(part >>> 0);
      feed(Math.floor(part / 4294967296) >>> 0);
    } else {
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, part);
      feed(view.getUint32(0));
      feed(view.getUint32(4));
    }
  }
  return mix32(h);
}

/**
 * mulberry32: a seeded stream of numbers in [0, 1), small and fully specified, so that a test or
 * a script in another language draws the same numbers from the same seed (fuzz cases replay,
 * bootstrap resamples recompute).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** sfc32 generator: small, fast, good statistical quality, seeded from a hash. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(...seedParts: readonly (number | string)[]) {
    this.a = hash32(...seedParts, 'a');
    this.b = hash32(...seedParts, 'b');
    this.c = hash32(...seedParts, 'c');
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform whole number in [low, high], both included. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  sign(): 1 | -1 {
    return this.next() < 0.5 ? -1 : 1;
  }

  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Normal, redrawn until it falls inside [low, high] (clamped after 32 tries). */
  truncatedNormal(mean: number, sd: number, low: number, high: number): number {
    for (let i = 0; i < 32; i++) {
      const x = this.normal(mean, sd);
      if (x >= low && x <= high) return x;
    }
    return Math.min(high, Math.max(low, mean));
  }

  /** Log-uniform in [low, high]: as many values between 1 and 2 as between 10 and 20. */
  logUniform(low: number, high: number): number {
    return low * Math.exp(Math.log(high / low) * this.next());
  }

  /** Uniform in [low, high] skewed towards low: `power` > 1 makes small values more common. */
  skewed(low: number, high: number, power: number): number {
    return low + (high - low) * this.next() ** power;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks a key by weight. */
  weighted<T extends string | number>(weights: readonly (readonly [T, number])[]): T {
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [value, w] of weights) {
      r -= w;
      if (r < 0) return value;
    }
    return weights[weights.length - 1][0];
  }
}

/** 128 deterministic bits as a UUID version 8 (RFC 9562) decimal, for a 2.25 UID. */
export function uuidDecimal(...parts: readonly (number | string)[]): string {
  let value = 0n;
  for (let i = 0; i < 4; i++) value = (value << 32n) | BigInt(hash32(...parts, 'uid', i));
  value &= ~(0xfn << 76n);
  value |= 0x8n << 76n; // version 8
  value &= ~(0x3n << 62n);
  value |= 0x2n << 62n; // variant 10
  return value.toString();
}
