import { HOUR, MINUTE, round, type Profile, type Reading } from './profile.js'

const TANK_L = 80
const ELEMENT_W = 3000
const SUPPLY_V = 230
// °C per minute per unit of efficiency: 3 kW into 80 L of water (4186 J/kg·K).
const HEAT_C_PER_MIN = (ELEMENT_W * 60) / (TANK_L * 4186)
const LOSS_TAU_MIN = 75 * 60
const HYSTERESIS_C = 6

type Draw = { from: number; to: number; mixedC: number; lPerMin: number }

/**
 * An electric storage water heater, simulated minute by minute: showers and kitchen draws pull
 * in cold mains water, the thermostat switches the element on below set point − 6 °C, the tank
 * loses heat through its insulation. After each reheat the controller reports how long 10 °C took
 * (the heat-up time) and its scale estimate; scaling lowers the element's effective output.
 */
export const waterHeater: Profile = {
  id: 'water-heater', typeId: 'water-heater', name: 'Water heater', idPrefix: 'wh', models: ['WH-60', 'WH-80S'],
  intervalMs: 10 * MINUTE,
  sensor: { metric: 'tank_temp_c', rail: -20, code: 'E3' },
  create(ctx) {
    const { climate, usage, noise, fault } = ctx
    const setpoint = Math.round(usage.range(55, 65))
    const people = 1 + usage.int(3)
    const hardWater = usage.range(0, 0.12) // scale this unit already carries
    let tank = setpoint - 1
    let heating = false
    let heatMinutes = 0
    let heatGain = 0
    let draws: Draw[] = []
    let plannedDay = Number.NEGATIVE_INFINITY
    let burnoutAlarms = 0
    let lastAlarm = Number.NEGATIVE_INFINITY

    function planDay(t: number) {
      const day = climate.localDay(t)
      if (day <= plannedDay) return
      plannedDay = day
      const rng = usage.fork('day', day)
      const midnight = climate.localMidnight(t)
      const add = (hour: number, minutes: number, mixedC: number, lPerMin: number) =>
        draws.push({ from: midnight + hour * HOUR, to: midnight + hour * HOUR + minutes * MINUTE, mixedC, lPerMin })
      for (let p = 0; p < people; p++) {
        if (rng.chance(0.45)) add(rng.range(6.3, 8), rng.range(4, 9), 40, 8)
        if (rng.chance(0.6)) add(rng.range(19, 22.5), rng.range(5, 10), 40, 8)
      }
      for (let k = 3 + rng.int(4); k > 0; k--) add(rng.range(7, 21.5), rng.range(1, 3), 45, 5)
      // A burn-out shows when the element is next asked to heat: force a shower at the fault start.
      if (fault?.kind === 'sudden-failure' && climate.localDay(fault.startAt) === day) {
        draws.push({ from: fault.startAt, to: fault.startAt + 10 * MINUTE, mixedC: 40, lPerMin: 9 })
      }
      draws.sort((a, b) => a.from - b.from)
    }

    return {
      tick(t) {
        planDay(t)
        const out: Reading[] = []
        const mains = climate.mainsWaterC(t)
        const ambient = climate.indoorC(t)
        const scale = hardWater + (fault?.kind === 'element-scaling' ? fault.progress(t) : 0)
        const efficiency = 0.97 - 0.45 * scale
        const burnedOut = fault?.kind === 'sudden-failure' && t >= fault.startAt
        const powered = ctx.powered(t)
        let demanded = false
        let drawing = false

        for (let m = 0; m < ctx.intervalMs / MINUTE; m++) {
          const now = t + m * MINUTE
          for (const d of draws) {
            if (now < d.from || now >= d.to) continue
            drawing = true
            const hotShare = Math.min(1, Math.max(0, (d.mixedC - mains) / Math.max(1, tank - mains)))
            const litres = Math.min(TANK_L, d.lPerMin * hotShare)
            tank = (tank * (TANK_L - litres) + mains * litres) / TANK_L
          }
          tank -= (tank - ambient) / LOSS_TAU_MIN
          if (!heating && powered && tank < setpoint - HYSTERESIS_C) {
            heating = true
            heatMinutes = 0
            heatGain = 0
          }
          if (!heating) continue
          demanded = true
          if (burnedOut && now - lastAlarm >= 2 * HOUR) {
            // No current although the thermostat calls for heat: the controller retries the relay
            // three times at first, then raises the alarm again every two hours.
            lastAlarm = now
            for (let i = 0; i < (burnoutAlarms === 0 ? 3 : 1); i++) out.push({ ts: now + i * 20_000, channel: 'events', code: 'E2', detail: { alarm: ++burnoutAlarms } })
          }
          if (!powered) { heating = false; continue }
          const gain = burnedOut ? 0 : HEAT_C_PER_MIN * efficiency
          tank += gain
          if (!draws.some((d) => now >= d.from && now < d.to)) {
            heatMinutes++
            heatGain += gain
          }
          // The sheath runs hot under scale; its cut-out trips now and then.
          if (scale > 0.5 && noise.chance((scale - 0.5) * 0.01)) out.push({ ts: now, channel: 'events', code: 'E4' })
          if (tank >= setpoint) {
            heating = false
            if (heatMinutes >= 10 && heatGain > 0) {
              out.push({
                ts: now, channel: 'telemetry', state: 'standby',
                metrics: {
                  heat_up_time_min: round((10 * heatMinutes) / heatGain + noise.normal(0, 0.6)),
                  scale_index_pct: round(Math.min(100, Math.max(0, 200 * (1 - efficiency / 0.97) + noise.normal(0, 2))), 0),
                },
              })
            }
          }
        }
        draws = draws.filter((d) => d.to > t + ctx.intervalMs)

        if (!powered) return out
        const metrics: Record<string, number> = {
          tank_temp_c: round(tank + noise.normal(0, 0.2)),
          inlet_temp_c: round((drawing ? mains : (mains + ambient) / 2) + noise.normal(0, 0.3)),
        }
        if (demanded) {
          const amps = burnedOut ? Math.abs(noise.normal(0, 0.03)) : (ELEMENT_W / SUPPLY_V) * (1 - 0.06 * scale) + noise.normal(0, 0.05)
          metrics.element_current_a = round(amps, 2)
        }
        out.push({ ts: t, channel: 'telemetry', state: heating || demanded ? 'heating' : 'standby', metrics })
        return out.sort((a, b) => a.ts - b.ts)
      },
    }
  },
}
