import { localTime } from '../tickets/local-clock.js'

/** A daily window in local wall-clock minutes; `start > end` wraps midnight (21:00–08:00). */
export type QuietHours = { start: string; end: string; startMin: number; endMin: number }

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/
const MINUTE = 60_000

/** `"21:00-08:00"` → the window, `"off"` → null, anything else → undefined. */
export function parseQuietHours(text: string): QuietHours | null | undefined {
  if (text === 'off') return null
  const [start, end, extra] = text.split('-')
  const s = HHMM.exec(start ?? '')
  const e = HHMM.exec(end ?? '')
  if (!s || !e || extra !== undefined || start === end) return undefined
  return { start, end, startMin: Number(s[1]) * 60 + Number(s[2]), endMin: Number(e[1]) * 60 + Number(e[2]) }
}

/** The customer's calendar date of an instant, `YYYY-MM-DD`: the unit of the daily cap. */
export function localDate(at: number, timeZone: string): string {
  const l = localTime(at, timeZone)
  return `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')}`
}

/**
 * The instant at which the local clock first reads `minute` on the local date `days` after the
 * date of `at`. Offsets are re-read at the guess, so a DST change in between is absorbed; a local
 * time skipped by a DST jump resolves to the first minute after it.
 */
export function atLocalMinute(at: number, timeZone: string, days: number, minute: number): number {
  const l = localTime(at, timeZone)
  const wall = Date.UTC(l.year, l.month - 1, l.day + days) + minute * MINUTE
  let guess = wall - offsetMs(at, timeZone)
  for (let i = 0; i < 3; i++) guess = wall - offsetMs(guess, timeZone)
  return guess
}

function offsetMs(at: number, timeZone: string): number {
  const l = localTime(at, timeZone)
  const wall = Date.UTC(l.year, l.month - 1, l.day) + l.minute * MINUTE
  return wall - Math.floor(at / MINUTE) * MINUTE
}

function inWindow(minute: number, w: QuietHours): boolean {
  return w.startMin < w.endMin ? minute >= w.startMin && minute < w.endMin : minute >= w.startMin || minute < w.endMin
}

/** When quiet hours end, if `at` falls inside them in `timeZone`; null when a message may go now. */
export function quietUntil(at: number, window: QuietHours | null, timeZone: string): number | null {
  if (!window) return null
  const { minute } = localTime(at, timeZone)
  if (!inWindow(minute, window)) return null
  // Past the start of a window that wraps midnight, it ends tomorrow; otherwise today.
  const days = window.startMin > window.endMin && minute >= window.startMin ? 1 : 0
  return atLocalMinute(at, timeZone, days, window.endMin)
}

/** The first moment of the next local day at which a message may go: midnight, or the end of quiet hours. */
export function nextDayStart(at: number, window: QuietHours | null, timeZone: string): number {
  const midnight = atLocalMinute(at, timeZone, 1, 0)
  return quietUntil(midnight, window, timeZone) ?? midnight
}
