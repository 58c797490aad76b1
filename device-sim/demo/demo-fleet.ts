import type { FleetOptions } from '../plan-fleet.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * The demo's households: two of each appliance, four of them with a fault that develops during
 * the run. July, so the air conditioners run. The short mode (CI) compresses the slow faults into
 * three days and plays the whole story in about six seconds.
 */
export function demoFleet(short: boolean): FleetOptions & { speed: number } {
  const spanMs = short ? 4.5 * DAY : 10 * DAY
  const slow = short ? 3 * DAY : 7 * DAY
  return {
    seed: 2026,
    start: Date.parse('2026-07-01T00:00:00+08:00'),
    spanMs,
    idPrefix: 'demo-',
    fleet: [
      { profile: 'washer', count: 2 }, { profile: 'fridge', count: 2 },
      { profile: 'air-conditioner', count: 2 }, { profile: 'water-heater', count: 2 },
    ],
    faults: [
      { kind: 'drain-clog', profile: 'washer', startAfterMs: 12 * HOUR, durationMs: slow },
      { kind: 'refrigerant-leak', profile: 'air-conditioner', startAfterMs: 12 * HOUR, durationMs: slow },
      { kind: 'sudden-failure', profile: 'fridge', startAfterMs: short ? DAY : 3 * DAY },
      { kind: short ? 'sudden-failure' : 'element-scaling', profile: 'water-heater', startAfterMs: short ? 1.5 * DAY : 12 * HOUR, durationMs: slow },
    ],
    // About 90 s of wall clock for the full story, fast enough to watch and slow enough to follow;
    // 6 s in the short mode, still paced so the story is told in order.
    speed: spanMs / (short ? 6_000 : 90_000),
  }
}
