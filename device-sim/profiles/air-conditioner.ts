import { clamp, HOUR, MINUTE, round, type Profile, type Reading } from './profile.js'

const COOL_SETPOINT_C = 26
const HEAT_SETPOINT_C = 21
const LOCKOUT_AFTER_MS = 90 * MINUTE

/**
 * A split-system heat pump. It runs when someone is home and the weather asks for it: cooling
 * above ~24 °C outdoors, heating below ~13 °C, idle in between. While it runs it reports the
 * temperature split across the indoor coil, compressor current, suction pressure and the
 * pressure drop across the air filter; idle it reports only room and outdoor temperature.
 */
export const airConditioner: Profile = {
  id: 'air-conditioner', typeId: 'air-conditioner', name: 'Air conditioner', idPrefix: 'ac', models: ['AC-26', 'AC-35i'],
  intervalMs: 10 * MINUTE,
  sensor: { metric: 'return_air_temp_c', rail: -30, code: 'E1' },
  create(ctx) {
    const { climate, usage, noise, fault } = ctx
    const coolAbove = usage.range(23, 25.5)
    const heatBelow = usage.range(11, 14)
    const filterAgeDays = usage.range(0, 60)
    const splitBias = usage.normal(0, 0.4)
    let plannedDay = Number.NEGATIVE_INFINITY
    let usesToday = true
    let runningTicks = 0
    let tripCount = 0

    function home(t: number): boolean {
      const day = climate.localDay(t)
      if (day !== plannedDay) {
        plannedDay = day
        usesToday = usage.fork('day', day).chance(0.9)
      }
      const hour = climate.localHour(t)
      return climate.isWeekend(t) ? hour >= 8 || hour < 1 : hour < 8 || hour >= 18
    }

    return {
      tick(t) {
        const outdoor = climate.outdoorC(t)
        const tripped = fault?.kind === 'sudden-failure' && t >= fault.startAt
        // The trip shows the next time the unit is asked to run: the customer switches it on at the
        // fault start. After 90 minutes of failed restarts the controller locks the compressor out.
        const forced = tripped && t < fault.startAt + LOCKOUT_AFTER_MS
        const lockedOut = tripped && !forced
        const wanted = ctx.powered(t) && !lockedOut && ((home(t) && usesToday) || forced)
        const mode = !wanted ? 'idle' : outdoor >= coolAbove || (forced && outdoor >= 18) ? 'cooling' : outdoor <= heatBelow || forced ? 'heating' : 'idle'
        const room = climate.indoorC(t) + noise.normal(0, 0.3)
        const out: Reading[] = []
        const metrics: Record<string, number> = { outdoor_temp_c: round(outdoor + noise.normal(0, 0.3)) }
        if (mode === 'idle') {
          runningTicks = 0
          metrics.return_air_temp_c = round(room)
          out.push({ ts: t, channel: 'telemetry', state: lockedOut ? 'lockout' : 'idle', metrics })
          return out
        }
        runningTicks++
        const cooling = mode === 'cooling'
        const setpoint = cooling ? COOL_SETPOINT_C : HEAT_SETPOINT_C
        // The first interval of a run is still pulling the room towards the set point.
        const returnAir = runningTicks === 1 ? (room + setpoint) / 2 : setpoint + noise.normal(0, 0.4)
        const leak = fault?.kind === 'refrigerant-leak' ? fault.progress(t) : 0
        const clog = fault?.kind === 'filter-clog' ? fault.progress(t) : 0

        const healthySplit = cooling ? 11 - 0.12 * (outdoor - 30) : clamp(13 - 0.1 * (7 - outdoor), 8.5, 15)
        // Less charge, less heat moved per kg of air; a clogged filter means less air, larger split.
        let split = (healthySplit + splitBias) * (1 - 0.7 * leak) + 2 * clog + noise.normal(0, 0.35)
        let current = (3.5 + 0.13 * Math.abs(outdoor - setpoint)) * (1 - 0.2 * leak) * (1 + 0.1 * clog) + noise.normal(0, 0.15)
        const suction = (cooling ? 850 + 6 * (outdoor - 30) : Math.max(250, 600 + 12 * outdoor)) * (1 - 0.55 * leak) + noise.normal(0, 12)
        if (tripped) {
          // Overcurrent trip on every start attempt: the fan blows unconditioned air.
          split = Math.abs(noise.normal(0.3, 0.25))
          current = Math.abs(noise.normal(0, 0.05))
          const attempts = runningTicks === 1 ? 3 : runningTicks % 3 === 0 ? 1 : 0
          for (let i = 0; i < attempts; i++) {
            tripCount++
            out.push({ ts: t + (i + 1) * 40_000, channel: 'events', code: 'E6', detail: { trips: tripCount } })
          }
        }
        if (leak > 0.9 && runningTicks === 1) out.push({ ts: t + MINUTE, channel: 'events', code: 'P4', detail: { suctionKpa: round(suction, 0) } })
        const days = filterAgeDays + (t - ctx.start) / (24 * HOUR)
        const filterDrop = 40 + 0.35 * days + 170 * clog * clog + noise.normal(0, 3)
        split = Math.max(0, split)
        metrics.return_air_temp_c = round(returnAir)
        metrics.supply_air_temp_c = round(cooling ? returnAir - split : returnAir + split)
        metrics.air_delta_c = round(split)
        metrics.compressor_current_a = round(Math.max(0, current), 2)
        metrics.refrigerant_pressure_kpa = round(suction, 0)
        metrics.filter_pressure_drop_pa = round(Math.max(0, filterDrop), 0)
        out.push({ ts: t, channel: 'telemetry', state: tripped ? 'fault' : mode, metrics })
        return out.sort((a, b) => a.ts - b.ts)
      },
    }
  },
}
