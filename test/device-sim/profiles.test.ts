import { describe, expect, it } from 'vitest'
import { createClimate } from '../../device-sim/climate.js'
import { createDeviceStream } from '../../device-sim/device-stream.js'
import { planFleet } from '../../device-sim/plan-fleet.js'
import { PROFILE_IDS, type ProfileId } from '../../device-sim/profiles/profile.js'
import { PROFILES } from '../../device-sim/profiles/profiles.js'
import { deviceTypeById, readCatalogue } from '../../device-sim/read-catalogue.js'

const DAY = 86_400_000
const catalogue = readCatalogue()
const climate = createClimate()

type Payload = { ts: number; seq?: number; metrics?: Record<string, number>; state?: string; code?: string; status?: string }

/** Two weeks of four healthy appliances of a profile, decoded. */
function generate(profile: ProfileId, start: string, faults: Parameters<typeof planFleet>[0]['faults'] = []) {
  const fleet = planFleet({ seed: 3, start: Date.parse(start), spanMs: 14 * DAY, idPrefix: 'p-', fleet: [{ profile, count: 4 }], faults })
  const type = deviceTypeById(catalogue, PROFILES[profile].typeId)
  const items: { deviceId: string; topic: string; body: Payload }[] = []
  for (const d of fleet.devices) {
    const stream = createDeviceStream(d, { start: fleet.start, end: fleet.end, climate, type, endStatus: 'powered_off' })
    for (const item of stream.until(Infinity)) if (item.kind === 'publish') items.push({ ...item, body: JSON.parse(item.payload) })
  }
  return { fleet, type, items, telemetry: items.filter((i) => i.topic.endsWith('/telemetry')), events: items.filter((i) => i.topic.endsWith('/events')) }
}

const values = (items: { body: Payload }[], metric: string) => items.flatMap((i) => (i.body.metrics && metric in i.body.metrics ? [i.body.metrics[metric]] : []))
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

describe.each(PROFILE_IDS)('healthy %s', (profile) => {
  it.each(['2026-01-05T00:00:00+08:00', '2026-07-05T00:00:00+08:00'])('stays inside its declared ranges and codes from %s', (start) => {
    const { type, items, telemetry, events } = generate(profile, start)
    expect(telemetry.length).toBeGreaterThan(100)
    // Collected, then asserted once: a failure lists every offending reading at a glance.
    const problems: string[] = []
    for (const { deviceId, body } of telemetry) {
      if (!Number.isInteger(body.ts)) problems.push(`${deviceId}: ts ${body.ts} is not an integer`)
      for (const [name, value] of Object.entries(body.metrics ?? {})) {
        const spec = type.metrics[name]
        if (!spec) problems.push(`${deviceId}: undeclared metric ${name}`)
        else if (!Number.isFinite(value) || value < (spec.min ?? -Infinity) || value > (spec.max ?? Infinity)) {
          problems.push(`${deviceId} ${new Date(body.ts).toISOString()}: ${name}=${value} outside [${spec.min}, ${spec.max}]`)
        }
      }
    }
    for (const { deviceId, body } of events) if (!type.eventCodes.includes(body.code!)) problems.push(`${deviceId}: undeclared code ${body.code}`)
    expect(problems.slice(0, 20)).toEqual([])
    // Within a device, event time never goes backwards and seq only grows.
    for (const id of new Set(items.map((i) => i.deviceId))) {
      const list = items.filter((i) => i.deviceId === id)
      const ts = list.map((i) => i.body.ts)
      expect(ts).toEqual([...ts].sort((a, b) => a - b))
      const seqs = list.flatMap((i) => (i.body.seq === undefined ? [] : [i.body.seq]))
      expect(seqs).toEqual(seqs.map((_, k) => k))
    }
  })
})

describe('physical plausibility', () => {
  it('fridges work harder in a hot July kitchen than in January', () => {
    const jan = mean(values(generate('fridge', '2026-01-05T00:00:00+08:00').telemetry, 'compressor_duty_pct'))
    const jul = mean(values(generate('fridge', '2026-07-05T00:00:00+08:00').telemetry, 'compressor_duty_pct'))
    expect(jul - jan).toBeGreaterThan(5)
    expect(jan).toBeGreaterThan(20)
    expect(jul).toBeLessThan(60)
  })

  it('air conditioners heat in January and cool in July', () => {
    const modes = (start: string) => new Set(generate('air-conditioner', start).telemetry.map((t) => t.body.state))
    expect(modes('2026-01-05T00:00:00+08:00')).toContain('heating')
    expect(modes('2026-01-05T00:00:00+08:00')).not.toContain('cooling')
    expect(modes('2026-07-05T00:00:00+08:00')).toContain('cooling')
  })

  it('washers run about once a day, water heaters hold their set point between draws', () => {
    const washes = generate('washer', '2026-03-02T00:00:00+08:00').events.filter((e) => e.body.code === 'CYCLE_END').length / (4 * 14)
    expect(washes).toBeGreaterThan(0.5)
    expect(washes).toBeLessThan(2.5)
    const tank = values(generate('water-heater', '2026-03-02T00:00:00+08:00').telemetry, 'tank_temp_c')
    expect(mean(tank)).toBeGreaterThan(48)
    expect(Math.max(...tank)).toBeLessThanOrEqual(66)
  })

  it('a gradual fault moves its metric the way the physics says', () => {
    const { fleet, telemetry } = generate('washer', '2026-03-02T00:00:00+08:00', [{ kind: 'drain-clog', profile: 'washer', startAfterMs: DAY, durationMs: 10 * DAY }])
    const f = fleet.devices.find((d) => d.fault)!
    const drains = telemetry.filter((t) => t.deviceId === f.id)
    const before = values(drains.filter((t) => t.body.ts < f.fault!.startAt), 'drain_time_s')
    const late = values(drains.filter((t) => t.body.ts > f.fault!.startAt + 8 * DAY), 'drain_time_s')
    expect(Math.max(...before)).toBeLessThan(70)
    expect(Math.min(...late)).toBeGreaterThan(150)
  })
})
