import { describe, expect, it } from 'vitest'
import { addServiceTime, calendarSchema } from '../../gateway/tickets/sla-clock.js'

const DAY = 86_400_000
const workweek = calendarSchema.parse('mon-fri 08:00-18:00')

describe('addServiceTime', () => {
  // On a working calendar one SLA day is one working day (10 h here): 0.1 × DAY = 1 working hour.
  it.each([
    // start (UTC), SLA, timezone, expected (UTC)
    ['24x7 is plain addition', '2026-11-20T09:00:00Z', 5 * DAY, 'Asia/Shanghai', '2026-11-25T09:00:00Z', '24x7'],
    ['Friday 17:00 Shanghai + 5 working days = next Friday 17:00', '2026-11-20T09:00:00Z', 5 * DAY, 'Asia/Shanghai', '2026-11-27T09:00:00Z'],
    ['2 working hours from Friday 17:00 Shanghai cross the weekend to Monday 09:00', '2026-11-20T09:00:00Z', 0.2 * DAY, 'Asia/Shanghai', '2026-11-23T01:00:00Z'],
    ['a start on Sunday waits for Monday 08:00', '2026-11-22T03:00:00Z', DAY / 10, 'Asia/Shanghai', '2026-11-23T01:00:00Z'],
    ['a start before opening waits for 08:00', '2026-11-24T22:00:00Z', DAY / 10, 'Asia/Shanghai', '2026-11-25T01:00:00Z'],
    ['the timezone decides the working day: New York', '2026-11-20T21:00:00Z', DAY / 10, 'America/New_York', '2026-11-20T22:00:00Z'],
  ])('%s', (_name, start, sla, tz, expected, calendar = 'mon-fri 08:00-18:00') => {
    expect(new Date(addServiceTime(Date.parse(start), sla, calendarSchema.parse(calendar), tz)).toISOString()).toBe(new Date(expected).toISOString())
  })

  it('crosses a daylight-saving change at local working hours', () => {
    // Friday 17:00 in New York before the November switch to standard time (UTC-4 → UTC-5).
    const due = addServiceTime(Date.parse('2026-10-30T21:00:00Z'), 0.2 * DAY, workweek, 'America/New_York')
    expect(new Date(due).toISOString()).toBe('2026-11-02T14:00:00.000Z')
  })

  it('refuses a calendar it cannot read', () => {
    for (const bad of ['mon-fry 08:00-18:00', 'mon-fri 18:00-08:00', 'weekdays', 'mon-fri 8:00-18:00']) {
      expect(calendarSchema.safeParse(bad).success, bad).toBe(false)
    }
  })
})
