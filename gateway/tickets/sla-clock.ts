import { z } from 'zod'
import { localTime } from './local-clock.js'

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const HOUR_MS = 3_600_000

/**
 * A service calendar: `24x7`, or working days and hours such as `mon-fri 08:00-18:00`, read in the
 * customer's timezone. An SLA of 5 days on `mon-fri 08:00-18:00` means 5 × 10 working hours.
 */
export const calendarSchema = z.string().transform((text, ctx) => {
  if (text === '24x7') return { days: new Set<number>([0, 1, 2, 3, 4, 5, 6]), startMin: 0, endMin: 1440, always: true }
  const m = /^([a-z]{3})(?:-([a-z]{3}))? (\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text)
  const first = m ? DAYS.indexOf(m[1] as never) : -1
  const last = m ? DAYS.indexOf((m[2] ?? m[1]) as never) : -1
  const startMin = m ? Number(m[3]) * 60 + Number(m[4]) : 0
  const endMin = m ? Number(m[5]) * 60 + Number(m[6]) : 0
  if (!m || first < 0 || last < 0 || startMin >= endMin || endMin > 1440) {
    ctx.addIssue({ code: 'custom', message: 'expected "24x7" or working days and hours like "mon-fri 08:00-18:00"' })
    return z.NEVER
  }
  const days = new Set<number>()
  for (let d = first; ; d = (d + 1) % 7) { days.add(d); if (d === last) break }
  return { days, startMin, endMin, always: false }
})
export type Calendar = z.output<typeof calendarSchema>

/** The nominal length of an SLA in calendar time: 5 days of SLA = 5 working days. */
function workingMsPerDay(c: Calendar) {
  return (c.endMin - c.startMin) * 60_000
}

/**
 * The instant at which `slaMs` of service time has passed since `start`, counting only the
 * calendar's working hours in the customer's timezone. SLA durations are stated in days; on a
 * working calendar each SLA day is one working day. Walks minute-aligned spans, so cost is
 * proportional to the number of days crossed, not to the duration in ms.
 */
export function addServiceTime(start: number, slaMs: number, calendar: Calendar, timeZone: string): number {
  if (calendar.always) return start + slaMs
  let remaining = (slaMs / (24 * HOUR_MS)) * workingMsPerDay(calendar)
  let at = start
  for (let guard = 0; guard < 10_000; guard++) {
    const { weekday: day, minute, second } = localTime(at, timeZone)
    const nowMin = minute + second / 60
    if (calendar.days.has(day) && nowMin < calendar.endMin) {
      const from = Math.max(nowMin, calendar.startMin)
      if (from > nowMin) { at += (from - nowMin) * 60_000; continue }
      const available = (calendar.endMin - nowMin) * 60_000
      if (remaining <= available) return at + remaining
      remaining -= available
      at += available
      continue
    }
    // Outside working hours: jump to the next local midnight (DST shifts are absorbed on arrival).
    at += (1440 - nowMin) * 60_000
  }
  throw new Error('service calendar never reaches the SLA')
}
