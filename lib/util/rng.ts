// Small seeded PRNG: xoshiro128** seeded through splitmix32.
// Only 32-bit integer arithmetic (Math.imul, >>> 0) is used, so a given seed
// yields the same stream on every machine and Node version. Math.random is
// never used: splits and synthetic data must be reproducible from a seed.

/** One splitmix32 step: a well-mixed 32-bit hash of `x`. */
export function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Derive a child seed from a parent seed and an index (e.g. per-image seeds). */
export function mixSeed(seed: number, index: number): number {
  return splitmix32((splitmix32(seed >>> 0) ^ Math.imul(index | 0, 0x27d4eb2f)) >>> 0);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
    // Feed successive splitmix32 outputs into the state; an all-zero state is
    // impossible because splitmix32 is a bijection applied to distinct inputs.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return splitmix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Next raw 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  nextRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextFloat();
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new Error(`nextInt(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    // Reject the top partial bucket so every residue is equally likely.
    const limit = 4294967296 - (4294967296 % n);
    let r = this.nextUint32();
    while (r >= limit) r = this.nextUint32();
    return r % n;
  }

  /** Standard normal variate (Box–Muller; one value per call keeps state simple). */
  nextGaussian(): number {
    const u = 1 - this.nextFloat(); // (0, 1], avoids log(0)
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle; returns the same array for chaining. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i] as T;
      array[i] = array[j] as T;
      array[j] = tmp;
    }
    return array;
  }
}

export function createRng(seed: number): Rng {
  return new Rng(seed);
}
