import { HOUR, MINUTE, round, type Profile, type Reading } from './profile.js'

const PROGRAMS = [
  { name: 'cotton-40', tempC: 40, washMin: 75, weight: 4 },
  { name: 'cotton-60', tempC: 60, washMin: 95, weight: 1.5 },
  { name: 'synthetics-30', tempC: 30, washMin: 55, weight: 2.5 },
  { name: 'quick-20', tempC: 20, washMin: 25, weight: 2 },
] as const
const TOTAL_WEIGHT = PROGRAMS.reduce((s, p) => s + p.weight, 0)
const TAIL_MIN = 35 // rinse, second drain and spin after the main wash
const HEARTBEAT_MS = 30 * MINUTE
// The pump gives up after five minutes with water still in the drum: that is the failure.
const DRAIN_TIMEOUT_S = 300

/**
 * A front-loading washer. It reports once per programme phase (fill, wash, drain, spin), a
 * heartbeat while idle, and events. Households wash 0–3 times a day, mornings and evenings,
 * more at weekends; drain time depends on the load, the inlet time on the mains pressure.
 */
export const washer: Profile = {
  id: 'washer', typeId: 'washer', name: 'Washing machine', idPrefix: 'wm', models: ['WM-8', 'WM-9X'],
  intervalMs: 10 * MINUTE,
  sensor: { metric: 'water_temp_c', rail: -20, code: 'E41' },
  create(ctx) {
    const { climate, usage, noise, fault } = ctx
    const pumpBase = usage.range(36, 44) // this unit's clean drain time for an empty drum
    const mainsPressure = usage.range(0.85, 1.15)
    const pending: Reading[] = []
    const cycles: { from: number; to: number }[] = []
    let plannedDay = Number.NEGATIVE_INFINITY
    let lastHeartbeat = Number.NEGATIVE_INFINITY

    function planDay(t: number) {
      const day = climate.localDay(t)
      if (day <= plannedDay) return
      plannedDay = day
      const midnight = climate.localMidnight(t)
      const dayRng = usage.fork('day', day)
      const weights = climate.isWeekend(t) ? [0.05, 0.4, 0.4, 0.15] : [0.25, 0.5, 0.2, 0.05]
      let n = 0
      for (let r = dayRng.next(); n < weights.length - 1 && r > weights[n]; n++) r -= weights[n]
      const starts: number[] = []
      for (let i = 0; i < n; i++) {
        const morning = dayRng.chance(0.45)
        const hour = morning ? dayRng.range(7, 10) : dayRng.range(17.5, 21.5)
        starts.push(Math.round(midnight + hour * HOUR))
      }
      // A sudden motor fault shows the first time the motor runs under load: the customer happens
      // to start a wash then. Forcing one keeps the ground truth's start time honest.
      const forced = fault?.kind === 'sudden-failure' && climate.localDay(fault.startAt) === day ? fault.startAt : undefined
      if (forced !== undefined) {
        for (let i = starts.length - 1; i >= 0; i--) if (Math.abs(starts[i] - forced) < 3 * HOUR) starts.splice(i, 1)
        starts.push(forced)
      }
      starts.sort((a, b) => a - b)
      let free = midnight
      for (const start of starts) {
        if (start < free || start < ctx.start) continue
        free = runCycle(start, dayRng)
      }
    }

    function runCycle(start: number, rng: typeof usage): number {
      let r = rng.range(0, TOTAL_WEIGHT)
      const program = PROGRAMS.find((p) => (r -= p.weight) < 0) ?? PROGRAMS[0]
      const kg = round(rng.range(2, 8), 1)
      const end = start + (program.washMin + TAIL_MIN) * MINUTE
      cycles.push({ from: start, to: end })
      const at = (min: number) => start + Math.round(min * MINUTE)
      const motorBroken = fault?.kind === 'sudden-failure' && start >= fault.startAt
      const motorDead = motorBroken && fault.failureAt !== null && start >= fault.failureAt

      pending.push({ ts: at(2), channel: 'telemetry', state: 'fill', metrics: { water_inlet_time_s: round((70 + 9 * kg) / mainsPressure + noise.normal(0, 5), 0) } })
      if (motorDead) {
        // The drive no longer starts: the controller retries three times and gives up.
        for (let i = 0; i < 3; i++) pending.push({ ts: at(4 + i * 0.5), channel: 'events', code: 'E51', detail: { attempt: i + 1 } })
        return at(6)
      }
      const waterC = Math.max(climate.mainsWaterC(start), program.tempC)
      for (const min of [12, program.washMin * 0.6]) {
        const current = motorBroken && min === 12 ? noise.range(12.5, 15.5) : 1.6 + 0.22 * kg + noise.normal(0, 0.15)
        pending.push({ ts: at(min), channel: 'telemetry', state: 'wash', metrics: { motor_current_a: round(current, 2), water_temp_c: round(waterC + noise.normal(0, 0.8)) } })
      }
      if (motorBroken) {
        // The drive trips on overcurrent and restarts: a burst of E51 within a couple of minutes.
        const burst = 3 + noise.int(4)
        for (let i = 0; i < burst; i++) pending.push({ ts: at(12.2 + i * 0.4), channel: 'events', code: 'E51', detail: { currentA: round(noise.range(12, 16), 1) } })
      }
      for (const min of [program.washMin, program.washMin + 15]) {
        const drain = drainSeconds(kg, at(min))
        if (drain > DRAIN_TIMEOUT_S) {
          pending.push({ ts: at(min), channel: 'telemetry', state: 'drain', metrics: { drain_time_s: DRAIN_TIMEOUT_S } })
          pending.push({ ts: at(min) + 1000, channel: 'events', code: 'E21', detail: { phase: 'drain' } })
          return at(min + 1)
        }
        pending.push({ ts: at(min), channel: 'telemetry', state: 'drain', metrics: { drain_time_s: round(drain, 0) } })
      }
      const unbalanced = rng.chance(0.06)
      if (unbalanced) pending.push({ ts: at(program.washMin + 24), channel: 'events', code: 'UB', detail: { kg } })
      const vibration = 2.5 + 0.3 * kg + Math.abs(noise.normal(0, 1.2)) + (unbalanced ? 3 : 0)
      pending.push({ ts: at(program.washMin + 25), channel: 'telemetry', state: 'spin', metrics: { vibration_mm_s: round(vibration), motor_current_a: round(3 + 0.25 * kg + noise.normal(0, 0.2), 2) } })
      pending.push({ ts: end, channel: 'events', code: 'CYCLE_END', detail: { program: program.name, kg } })
      return end + MINUTE
    }

    function drainSeconds(kg: number, ts: number): number {
      const clog = fault?.kind === 'drain-clog' ? fault.progress(ts) : 0
      // A partly blocked trap throttles flow: drain time rises slowly at first, then steeply.
      return (pumpBase + 1.2 * kg) * (1 + 6 * clog * clog) + noise.normal(0, 2.5)
    }

    return {
      tick(t) {
        planDay(t)
        planDay(t + ctx.intervalMs)
        const to = t + ctx.intervalMs
        const out: Reading[] = []
        const busy = cycles.some((c) => c.from < to && c.to >= t)
        if (!busy && t - lastHeartbeat >= HEARTBEAT_MS) {
          lastHeartbeat = t
          out.push({ ts: t, channel: 'telemetry', state: 'idle', metrics: {} })
        }
        while (pending.length > 0 && pending[0].ts < to) {
          const r = pending.shift()!
          if (r.ts >= t) out.push(r)
        }
        while (cycles.length > 0 && cycles[0].to < t) cycles.shift()
        return out.sort((a, b) => a.ts - b.ts)
      },
    }
  },
}
