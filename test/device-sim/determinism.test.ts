import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClimate } from '../../device-sim/climate.js'
import { planFleet } from '../../device-sim/plan-fleet.js'
import { readCatalogue } from '../../device-sim/read-catalogue.js'
import { createRecorder } from '../../device-sim/recorder.js'
import { runFleet } from '../../device-sim/run-fleet.js'

const dir = mkdtempSync(path.join(tmpdir(), 'device-sim-det-'))
const catalogue = readCatalogue()
const DAY = 86_400_000

async function record(name: string, seed: number, speed: number | 'max') {
  const plan = planFleet({
    seed, start: Date.parse('2026-03-01T00:00:00+08:00'), spanMs: 4 * DAY, idPrefix: 'd-',
    fleet: [{ profile: 'washer', count: 3 }, { profile: 'fridge', count: 3 }, { profile: 'air-conditioner', count: 3 }, { profile: 'water-heater', count: 3 }],
    randomFaults: 0.5,
  })
  const file = path.join(dir, `${name}.jsonl`)
  const recorder = createRecorder(file, (id) => plan.groundTruth.devices.find((d) => d.id === id)?.deviceType)
  await runFleet({ plan, catalogue, climate: createClimate(), speed, recorder })
  recorder.close()
  return { text: readFileSync(file, 'utf8'), plan }
}

describe('determinism', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('the same seed gives a byte-identical recording and ground truth, however fast it runs', async () => {
    const a = await record('a', 42, 'max')
    // Paced: a different chunking of event time must not change the order or the content.
    const b = await record('b', 42, 4 * DAY / 300)
    expect(a.text.split('\n').length).toBeGreaterThan(5000)
    expect(b.text).toBe(a.text)
    expect(b.plan.groundTruth).toEqual(a.plan.groundTruth)
  })

  it('another seed gives another fleet', async () => {
    const a = await record('c', 42, 'max')
    const c = await record('d', 43, 'max')
    expect(c.text).not.toBe(a.text)
    expect(c.plan.groundTruth.faults).not.toEqual(a.plan.groundTruth.faults)
  })

  it('records in event-time order, in the replay format', async () => {
    const { text } = await record('e', 42, 'max')
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { deviceId: string; topic: string; payload: string; deviceType: string })
    expect(Object.keys(lines[0]).sort()).toEqual(['deviceId', 'deviceType', 'payload', 'topic'])
    const ts = lines.flatMap((l) => {
      try { return [JSON.parse(l.payload).ts as number] } catch { return [] }
    }).filter((t) => typeof t === 'number' && t < 4e12)
    expect(ts).toEqual([...ts].sort((x, y) => x - y))
  })
})
