const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/** `"30m"`, `"7d"`, `"1.5h"` or a number of milliseconds → milliseconds; undefined when malformed. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined
  const m = PATTERN.exec(input.trim())
  if (!m) return /^\d+$/.test(input.trim()) ? Number(input) : undefined
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS])
}

export function requireDuration(input: string | number, what: string): number {
  const ms = parseDuration(input)
  if (ms === undefined) throw new Error(`${what}: expected a duration like "30s", "10m", "24h", "7d" or milliseconds, got ${JSON.stringify(input)}`)
  return ms
}

/** 93784000 → "1d 2h 3m"; readable rather than exact. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  if (rest < 60_000) return `${sign}${Math.round(rest / 1000)}s`
  const parts: string[] = []
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    const n = Math.floor(rest / size)
    if (n > 0 || (unit === 'm' && parts.length === 0)) parts.push(`${n}${unit}`)
    rest -= n * size
    if (parts.length === 2) break
  }
  return sign + parts.join(' ')
}
