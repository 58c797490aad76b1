const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
// Building an Intl formatter costs far more than using one; SLA and quiet-hour walks call this
// once per day crossed, for every ticket and message.
const formatters = new Map<string, Intl.DateTimeFormat>()

export type LocalTime = { year: number; month: number; day: number; weekday: number; minute: number; second: number }

/** The wall clock and calendar in `timeZone` at an instant: weekday 0 = Sunday, minute since midnight. */
export function localTime(at: number, timeZone: string): LocalTime {
  let format = formatters.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    })
    formatters.set(timeZone, format)
  }
  const parts = format.formatToParts(at)
  const get = (type: string) => parts.find((p) => p.type === type)!.value
  return {
    year: Number(get('year')), month: Number(get('month')), day: Number(get('day')),
    weekday: WEEKDAYS.indexOf(get('weekday') as never),
    minute: Number(get('hour')) * 60 + Number(get('minute')), second: Number(get('second')),
  }
}
