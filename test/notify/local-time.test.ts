import { describe, expect, it } from 'vitest'
import { localDate, nextDayStart, parseQuietHours, quietUntil } from '../../gateway/notify/local-time.js'

const night = parseQuietHours('21:00-08:00')!
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

describe('quiet hours in the customer\'s timezone', () => {
  it.each([
    // [instant, zone, quiet until]
    ['2026-11-02T15:30:00Z', 'Asia/Shanghai', '2026-11-03T00:00:00.000Z'], // 23:30 → 08:00 next day
    ['2026-11-02T18:00:00Z', 'Asia/Shanghai', '2026-11-03T00:00:00.000Z'], // 02:00 → 08:00 the same day
    ['2026-11-02T12:59:00Z', 'Asia/Shanghai', null], // 20:59 is not quiet yet
    ['2026-11-02T23:59:00Z', 'Asia/Shanghai', '2026-11-03T00:00:00.000Z'], // 07:59 still is
    ['2026-11-03T00:00:00Z', 'Asia/Shanghai', null], // 08:00 is not
    ['2026-11-02T15:30:00Z', 'UTC', null],
    // 2026-11-01 is the end of DST in New York: 23:30 EST the night before is 04:30 UTC, 08:00 EST is 13:00 UTC.
    ['2026-11-01T04:30:00Z', 'America/New_York', '2026-11-01T13:00:00.000Z'],
  ] as const)('%s in %s', (at, zone, until) => {
    expect(iso(quietUntil(Date.parse(at), night, zone))).toBe(until)
  })

  it('handles a window that does not wrap midnight, and "off"', () => {
    const lunch = parseQuietHours('12:00-14:00')!
    expect(iso(quietUntil(Date.parse('2026-11-02T05:00:00Z'), lunch, 'Asia/Shanghai'))).toBe('2026-11-02T06:00:00.000Z')
    expect(quietUntil(Date.parse('2026-11-02T07:00:00Z'), lunch, 'Asia/Shanghai')).toBeNull()
    expect(parseQuietHours('off')).toBeNull()
    expect(parseQuietHours('25:00-08:00')).toBeUndefined()
    expect(parseQuietHours('08:00-08:00')).toBeUndefined()
  })

  it('counts days and finds the next allowed start on the customer\'s calendar', () => {
    expect(localDate(Date.parse('2026-11-02T16:30:00Z'), 'Asia/Shanghai')).toBe('2026-11-03')
    expect(localDate(Date.parse('2026-11-02T16:30:00Z'), 'UTC')).toBe('2026-11-02')
    expect(iso(nextDayStart(Date.parse('2026-11-02T06:00:00Z'), night, 'Asia/Shanghai'))).toBe('2026-11-03T00:00:00.000Z')
    expect(iso(nextDayStart(Date.parse('2026-11-02T06:00:00Z'), null, 'Asia/Shanghai'))).toBe('2026-11-02T16:00:00.000Z')
  })
})
