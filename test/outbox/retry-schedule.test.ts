import { describe, expect, it } from 'vitest'
import { DEFAULT_RETRY_SCHEDULE_MS } from '../../gateway/config/load-config.js'
import { MAX_RETRY_AFTER_MS, nextAttemptDelay, parseRetryAfter } from '../../gateway/outbox/retry-schedule.js'

const SCHEDULE = [5_000, 300_000, 1_800_000]

describe('nextAttemptDelay', () => {
  it.each([
    // [attempts so far, random, expected]
    [1, 0.5, 5_000],
    [2, 0.5, 300_000],
    [3, 0.5, 1_800_000],
    [1, 0, 4_000], // −20%
    [1, 1, 6_000], // +20%
    [2, 0.75, 330_000],
    [4, 0.5, null], // schedule spent: dead letter
    [10, 0.5, null],
  ])('after %i failed attempts with random %f waits %s ms', (attempts, random, expected) => {
    expect(nextAttemptDelay(attempts, SCHEDULE, () => random)).toBe(expected)
  })

  it('keeps every jittered delay within ±20% of the schedule', () => {
    for (let i = 0; i < 1_000; i++) {
      const d = nextAttemptDelay(2, SCHEDULE)!
      expect(d).toBeGreaterThanOrEqual(240_000)
      expect(d).toBeLessThanOrEqual(360_000)
    }
  })

  it('spreads the default schedule over about three days', () => {
    let total = 0
    for (let n = 1; ; n++) {
      const d = nextAttemptDelay(n, DEFAULT_RETRY_SCHEDULE_MS, () => 0.5)
      if (d === null) break
      total += d
    }
    expect(total / 3_600_000).toBeGreaterThan(70)
    expect(total / 3_600_000).toBeLessThan(80)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z')

  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Sat, 01 Mar 2025 12:02:00 GMT', 120_000],
    ['Saturday, 01-Mar-25 12:00:30 GMT', 30_000], // RFC 850, obsolete but allowed
    ['Sat, 01 Mar 2025 11:00:00 GMT', 0], // in the past: now
    ['999999', MAX_RETRY_AFTER_MS],
    ['Sun, 01 Mar 2026 12:00:00 GMT', MAX_RETRY_AFTER_MS],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2 days', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('reads %j as %s ms', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected)
  })

  it('reads the asctime form too', () => {
    const header = 'Sat Mar  1 12:00:10 2025'
    expect(parseRetryAfter(header, Date.parse(header) - 10_000)).toBe(10_000)
  })

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['30', '60'], now)).toBe(30_000)
  })
})
