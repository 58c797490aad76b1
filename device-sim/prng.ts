/**
 * A small seeded PRNG (mulberry32) with the few distributions the simulator needs. Every random
 * choice in a simulation comes from one of these, never from Math.random, so the same seed gives
 * the same fleet, the same faults and byte-identical recordings.
 */
export type Prng = {
  /** Uniform in [0, 1). */
  next(): number
  range(min: number, max: number): number
  /** Integer in [0, n). */
  int(n: number): number
  chance(p: number): boolean
  normal(mean?: number, sd?: number): number
  /** Poisson-distributed count (Knuth; fine for the small rates used here). */
  poisson(lambda: number): number
  pick<T>(items: readonly T[]): T
  /** A child stream keyed by a label: adding draws to one stream leaves the others unchanged. */
  fork(...labels: (string | number)[]): Prng
}

/** 32-bit FNV-1a over the parts, so a seed can be derived from (run seed, device id, purpose). */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5
  for (const part of parts) {
    const s = `${String(part)}\u0000`
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
  }
  return h >>> 0
}

export function createPrng(seed: number): Prng {
  let state = seed >>> 0
  let spare: number | undefined

  function next(): number {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  function normal(mean = 0, sd = 1): number {
    if (spare !== undefined) {
      const z = spare
      spare = undefined
      return mean + sd * z
    }
    // Box–Muller; 1 - next() keeps the logarithm away from zero.
    const u = 1 - next()
    const v = next()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return mean + sd * r * Math.cos(2 * Math.PI * v)
  }

  return {
    next,
    range: (min, max) => min + (max - min) * next(),
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    normal,
    poisson(lambda) {
      if (lambda <= 0) return 0
      const limit = Math.exp(-lambda)
      let k = 0
      let p = next()
      while (p > limit) {
        k++
        p *= next()
      }
      return k
    },
    pick: (items) => items[Math.floor(next() * items.length)],
    fork: (...labels) => createPrng(hashSeed(seed, ...labels)),
  }
}
