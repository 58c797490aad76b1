// Log-spaced buckets 1 % wide from 1 µs to ~10 min: percentiles within 1 % for any run length at
// a fixed ~2,000 counters, where keeping every sample of a million-message run would not do.
const MIN_MS = 0.001
const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH) + 1

export function createLatencyHistogram() {
  const counts = new Float64Array(BUCKETS)
  let n = 0
  let sum = 0
  let max = 0

  return {
    record(ms: number) {
      const v = Math.max(ms, MIN_MS)
      counts[Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH))]++
      n++
      sum += ms
      if (ms > max) max = ms
    },
    get count() {
      return n
    },
    /** p in [0, 1]; NaN when empty. The bucket's geometric middle, never above the true maximum. */
    percentile(p: number): number {
      if (n === 0) return NaN
      const rank = Math.max(1, Math.ceil(p * n))
      let seen = 0
      for (let i = 0; i < BUCKETS; i++) {
        seen += counts[i]
        if (seen >= rank) return Math.min(max, MIN_MS * GROWTH ** (i + 0.5))
      }
      return max
    },
    mean: () => (n === 0 ? NaN : sum / n),
    max: () => (n === 0 ? NaN : max),
  }
}

export type LatencyHistogram = ReturnType<typeof createLatencyHistogram>
