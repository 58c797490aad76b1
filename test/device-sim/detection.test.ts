import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClimate } from '../../device-sim/climate.js'
import { FAULT_KINDS, type FaultKindId } from '../../device-sim/fault-kinds.js'
import type { Ticket } from '../../device-sim/gateway-api.js'
import type { FleetPlan } from '../../device-sim/plan-fleet.js'
import type { ProfileId } from '../../device-sim/profiles/profile.js'
import { createRecorder } from '../../device-sim/recorder.js'
import { runFleet } from '../../device-sim/run-fleet.js'
import { DAY, HOUR, plan, playThrough, startSimGateway, type SimGateway } from './sim-harness.js'

// Every fault a threshold rule should catch, each on its own appliance, plus the two that must
// not open a ticket (unplugged, garbage) and one healthy twin per appliance. July: the air
// conditioners run. Gradual faults fail five days after they start.
const DETECTABLE: [FaultKindId, ProfileId][] = [
  ['drain-clog', 'washer'], ['sudden-failure', 'washer'], ['flapping-sensor', 'washer'],
  ['compressor-wear', 'fridge'], ['sudden-failure', 'fridge'], ['flapping-sensor', 'fridge'],
  ['refrigerant-leak', 'air-conditioner'], ['filter-clog', 'air-conditioner'], ['sudden-failure', 'air-conditioner'], ['flapping-sensor', 'air-conditioner'],
  ['element-scaling', 'water-heater'], ['sudden-failure', 'water-heater'], ['flapping-sensor', 'water-heater'],
]
const QUIET: [FaultKindId, ProfileId][] = [['unplugged', 'fridge'], ['garbage', 'water-heater']]
const PROFILES: ProfileId[] = ['washer', 'fridge', 'air-conditioner', 'water-heater']

describe('fault scenarios through the gateway with the catalogue rules', () => {
  let g: SimGateway
  let fleet: FleetPlan
  let tickets: Ticket[]
  const dir = mkdtempSync(path.join(tmpdir(), 'device-sim-'))

  beforeAll(async () => {
    g = await startSimGateway()
    const faults = [...DETECTABLE, ...QUIET]
    fleet = plan({
      start: Date.parse('2026-07-01T00:00:00+08:00'), spanMs: 6 * DAY, idPrefix: 'det-',
      fleet: PROFILES.map((p) => ({ profile: p, count: faults.filter(([, q]) => q === p).length + 1 })),
      faults: faults.map(([kind, profile]) => ({ kind, profile, startAfterMs: 12 * HOUR, durationMs: kind === 'unplugged' ? DAY : 5 * DAY })),
    })
    const recorder = createRecorder(path.join(dir, 'live.jsonl'))
    await playThrough(g, fleet, { recorder })
    recorder.close()
    tickets = (await g.api.listTickets()).filter((t) => t.deviceId.startsWith('det-'))
  }, 180_000)
  afterAll(async () => {
    await g?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it.each(DETECTABLE)('detects %s on a %s before the customer would notice', (kind, profile) => {
    const f = fleet.groundTruth.faults.find((x) => x.kind === kind && fleet.devices.find((d) => d.id === x.deviceId)!.profile === profile)!
    const mine = tickets.filter((t) => t.deviceId === f.deviceId && f.problems.includes(t.problem))
    expect(mine, `no ${f.problems.join('/')} ticket for ${f.deviceId}; its tickets: ${JSON.stringify(tickets.filter((t) => t.deviceId === f.deviceId))}`).not.toHaveLength(0)
    const first = Math.min(...mine.map((t) => Date.parse(t.detectedAt)))
    expect(first).toBeGreaterThanOrEqual(Date.parse(f.startAt))
    expect(first).toBeLessThan(Date.parse(f.failureAt!))
  })

  it('opens no ticket for healthy twins, an unplugged appliance or a garbage sender', () => {
    const faulty = new Map(fleet.groundTruth.faults.map((f) => [f.deviceId, f]))
    const wrong = tickets.filter((t) => {
      const f = faulty.get(t.deviceId)
      return !f || !FAULT_KINDS[f.kind].expectTicket || !f.problems.includes(t.problem)
    })
    expect(wrong.map((t) => `${t.deviceId} ${t.problem} (${t.ruleId})`)).toEqual([])
  })

  it('sends only valid messages, in event-time order, except from the garbage sender', async () => {
    const garbage = fleet.groundTruth.faults.find((f) => f.kind === 'garbage')!.deviceId
    for (const d of fleet.devices) {
      const refused = await g.api.countRejections(d.id)
      if (d.id === garbage) expect(refused).toBeGreaterThan(10)
      else expect(refused, d.id).toBe(0)
    }
    expect(await g.t.metric('precall_readings_late_total')).toBe(0)
  })

  it('publishes exactly what a dry run of the same plan generates', async () => {
    const dry = createRecorder(path.join(dir, 'dry.jsonl'))
    await runFleet({ plan: fleet, catalogue: g.catalogue, climate: createClimate(), speed: 'max', recorder: dry })
    dry.close()
    const live = readFileSync(path.join(dir, 'live.jsonl'), 'utf8')
    expect(live.length).toBeGreaterThan(100_000)
    expect(readFileSync(path.join(dir, 'dry.jsonl'), 'utf8')).toBe(live)
  })
})
