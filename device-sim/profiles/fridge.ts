import { clamp, HOUR, MINUTE, round, type Profile, type Reading } from './profile.js'

const SETPOINT_C = 4
// Cabinet heat load as a fraction of the compressor's capacity: a healthy fridge runs 25–60 %.
const BASE_LOAD = 0.3
const LOAD_PER_C = 0.018
const LOAD_PER_OPENING = 0.035
const DEFROST_EVERY_H = 8
const DEFROST_MIN = 20

/** Door openings per hour by local hour: breakfast, lunch and dinner peaks, quiet nights. */
function openingsPerHour(hour: number, weekend: boolean): number {
  const meals = hour >= 6.5 && hour < 9 ? 4 : hour >= 11.5 && hour < 13.5 ? 3 : hour >= 17.5 && hour < 20.5 ? 6 : 0
  const base = hour >= 23 || hour < 6 ? 0.1 : 1
  return (base + meals) * (weekend ? 1.3 : 1)
}

/**
 * A refrigerator with a thermostat-controlled compressor. Heat load follows the kitchen's
 * temperature and the door; the compressor's duty cycle is the share of the interval it ran.
 * Capacity below load means 100 % duty and a cabinet that drifts warm — that is how wear and a
 * failed start relay become visible to the customer.
 */
export const fridge: Profile = {
  id: 'fridge', typeId: 'fridge', name: 'Refrigerator', idPrefix: 'fr', models: ['FR-300', 'FR-450X'],
  intervalMs: 10 * MINUTE,
  sensor: { metric: 'cabinet_temp_c', rail: -40, code: 'F1' },
  create(ctx) {
    const { climate, usage, noise, fault } = ctx
    const kitchenOffset = usage.range(0, 2.5)
    const household = usage.range(0.6, 1.6)
    const defrostPhaseH = usage.range(0, DEFROST_EVERY_H)
    let cabinet = SETPOINT_C
    let startFailures = 0

    return {
      tick(t) {
        const dtH = ctx.intervalMs / HOUR
        const hour = climate.localHour(t)
        const ambient = climate.indoorC(t) + kitchenOffset
        const powered = ctx.powered(t)
        const openings = powered ? usage.poisson(openingsPerHour(hour, climate.isWeekend(t)) * household * dtH) : 0
        const wear = fault?.kind === 'compressor-wear' ? fault.progress(t) : 0
        const relayFailed = fault?.kind === 'sudden-failure' && t >= fault.startAt
        const defrost = (hour + defrostPhaseH) % DEFROST_EVERY_H < DEFROST_MIN / 60
        const capacity = 1 - 0.775 * wear
        const needed = (BASE_LOAD + LOAD_PER_C * (ambient - 20) + LOAD_PER_OPENING * openings) / capacity
        const out: Reading[] = []

        let duty: number
        let target: number
        let tauH: number
        if (!powered || relayFailed) {
          // No cooling: the cabinet warms towards the kitchen through its insulation.
          duty = 0
          target = ambient
          tauH = 15
        } else if (defrost) {
          duty = 0
          target = cabinet + 1.5
          tauH = 1
        } else {
          target = SETPOINT_C + 12 * Math.max(0, needed - 1)
          const pullingDown = cabinet > target + 1.5
          duty = pullingDown ? 1 : Math.min(1, needed)
          tauH = pullingDown ? 1 : 0.5
        }
        cabinet += (target - cabinet) * (1 - Math.exp(-dtH / tauH))

        if (relayFailed && powered) {
          // The relay clicks, the compressor stalls, the overload trips: bursts of C1, first
          // every few minutes, then once an hour as the controller backs off.
          const since = t - fault.startAt
          const attempts = since < HOUR ? 3 : t % HOUR < ctx.intervalMs ? 1 : 0
          startFailures += attempts
          for (let i = 0; i < attempts; i++) out.push({ ts: t + (i + 1) * 90_000, channel: 'events', code: 'C1', detail: { attempt: startFailures } })
        }
        if (powered && openings >= 4 && usage.chance(0.15)) out.push({ ts: t + 5 * MINUTE, channel: 'events', code: 'DOOR_ALARM' })

        const running = duty > 0
        const evaporator = defrost && powered && !relayFailed
          ? noise.range(2, 6)
          : running ? -21 + 0.25 * (ambient - 20) + 2 * wear + noise.normal(0, 0.6) : cabinet - 2 + noise.normal(0, 0.4)
        const dutyPct = running ? clamp(duty * 100 + (duty < 1 ? noise.normal(0, 2.5) : 0), 0, 100) : 0
        const inDefrost = defrost && powered && !relayFailed
        out.push({
          ts: t, channel: 'telemetry', state: !powered ? 'off' : relayFailed ? 'fault' : defrost ? 'defrost' : 'cooling',
          metrics: {
            // Duty is the thermostat's share of the interval; during defrost the controller holds the
            // compressor off by design, so it reports no duty rather than a misleading 0 %.
            ...(inDefrost ? {} : { compressor_duty_pct: round(dutyPct) }),
            cabinet_temp_c: round(cabinet + 0.35 * Math.min(openings, 5) + noise.normal(0, 0.15)),
            evaporator_temp_c: round(evaporator),
            door_openings: openings,
            ambient_temp_c: round(ambient + noise.normal(0, 0.2)),
          },
        })
        return out.sort((a, b) => a.ts - b.ts)
      },
    }
  },
}
