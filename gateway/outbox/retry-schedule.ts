/** The longest wait a receiver may ask for: past a day, the message is better off in the dead letters. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000

const JITTER = 0.2

/**
 * How long to wait after `attemptsSoFar` failed attempts, or `null` when the schedule is spent and
 * the message goes to the dead letters. Attempt n+1 waits `scheduleMs[n-1]` ±20%: the jitter keeps
 * a receiver that comes back from an outage from being hit by every queued message at once.
 */
export function nextAttemptDelay(attemptsSoFar: number, scheduleMs: readonly number[], random: () => number = Math.random): number | null {
  if (attemptsSoFar < 1) return 0
  const base = scheduleMs[attemptsSoFar - 1]
  if (base === undefined) return null
  return Math.max(0, Math.round(base * (1 + (random() * 2 - 1) * JITTER)))
}

/**
 * A `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as milliseconds from
 * `nowMs`, capped at a day; `undefined` when absent or unreadable so the schedule applies instead.
 */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (!value) return undefined
  let ms: number
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000
  } else {
    // All three HTTP-date forms open with a day name; anything else is not a date, whatever V8 makes of it.
    if (!/^(mon|tue|wed|thu|fri|sat|sun)/i.test(value)) return undefined
    const at = Date.parse(value)
    if (Number.isNaN(at)) return undefined
    ms = Math.max(0, at - nowMs)
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS)
}
