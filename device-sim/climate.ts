import { z } from 'zod'

const DAY_MS = 86_400_000
const YEAR_DAYS = 365.25

/**
 * Where the fleet lives. Defaults are a humid subtropical city (Shanghai-like): cold damp winters,
 * hot summers, a daily swing of a few degrees. Appliances load with the weather, so a fridge's
 * duty cycle and an air conditioner's mode both follow it.
 */
export const climateSchema = z.strictObject({
  utcOffsetHours: z.number().min(-12).max(14).default(8),
  outdoorMeanC: z.number().min(-20).max(35).default(17),
  outdoorSeasonalC: z.number().min(0).max(25).default(11),
  outdoorDailyC: z.number().min(0).max(15).default(4),
  /** Day of the year with the warmest weather: ~200 in the northern hemisphere, ~15 in the southern. */
  warmestDayOfYear: z.number().min(0).max(366).default(205),
})
export type ClimateOptions = z.input<typeof climateSchema>

export type Climate = ReturnType<typeof createClimate>

export function createClimate(options: ClimateOptions = {}) {
  const c = climateSchema.parse(options)
  const offsetMs = c.utcOffsetHours * 3_600_000

  const localHour = (ts: number) => (((ts + offsetMs) % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000
  const localDay = (ts: number) => Math.floor((ts + offsetMs) / DAY_MS)
  // 1970-01-01 was a Thursday: day 0 → weekday 4 (0 = Sunday).
  const weekday = (ts: number) => (localDay(ts) + 4) % 7
  const dayOfYear = (ts: number) => {
    const d = new Date(ts + offsetMs)
    return (d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS
  }
  const seasonal = (ts: number, lagDays = 0) => Math.cos((2 * Math.PI * (dayOfYear(ts) - c.warmestDayOfYear - lagDays)) / YEAR_DAYS)

  function outdoorC(ts: number): number {
    // Warmest mid-afternoon, coolest before dawn.
    return c.outdoorMeanC + c.outdoorSeasonalC * seasonal(ts) + c.outdoorDailyC * Math.cos((2 * Math.PI * (localHour(ts) - 15)) / 24)
  }

  /** Indoors follows outdoors weakly (walls, heating), with a small evening peak of cooking and people. */
  function indoorC(ts: number): number {
    const follow = 21 + 0.3 * (outdoorC(ts) - 18)
    return Math.min(30, Math.max(14, follow)) + 0.8 * Math.cos((2 * Math.PI * (localHour(ts) - 19)) / 24)
  }

  /** Cold-water mains lag the air by about a month and swing much less. */
  function mainsWaterC(ts: number): number {
    return Math.max(3, c.outdoorMeanC - 1 + 0.55 * c.outdoorSeasonalC * seasonal(ts, 30))
  }

  return {
    utcOffsetHours: c.utcOffsetHours,
    localHour,
    localDay,
    weekday,
    isWeekend: (ts: number) => weekday(ts) === 0 || weekday(ts) === 6,
    /** Epoch ms of local midnight starting the local day that contains ts. */
    localMidnight: (ts: number) => localDay(ts) * DAY_MS - offsetMs,
    outdoorC,
    indoorC,
    mainsWaterC,
  }
}
