import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseCliOptions } from '../../device-sim/cli-options.js'
import { loadScenario } from '../../device-sim/load-scenario.js'
import { planFleet } from '../../device-sim/plan-fleet.js'

const SHIPPED = path.join(import.meta.dirname, '../../device-sim/scenarios')
const dir = mkdtempSync(path.join(tmpdir(), 'device-sim-scn-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('scenario files', () => {
  it.each(readdirSync(SHIPPED))('%s validates and plans its fleet', async (file) => {
    const scenario = await loadScenario(path.join(SHIPPED, file))
    const opts = await parseCliOptions(['--scenario', path.join(SHIPPED, file), '--dry-run'], {}, Date.parse('2026-11-01T00:00:00Z'))
    const plan = planFleet(opts.fleet)
    expect(plan.devices.length).toBe(scenario.fleet.reduce((n, g) => n + g.count, 0))
    expect(plan.groundTruth.faults.length).toBeGreaterThan(0)
    expect(plan.end).toBeLessThanOrEqual(Date.parse('2026-11-01T00:00:00Z'))
  })

  it('names every problem with its path', async () => {
    const file = path.join(dir, 'bad.yaml')
    writeFileSync(file, [
      'name: bad', 'span: 3 days', 'speed: -1',
      'fleet:', '  - { profile: toaster, count: 2 }',
      'faults:', '  - { kind: drain-clog, profile: fridge }', '  - { kind: melt-down }',
      'colour: blue',
    ].join('\n'))
    const err = await loadScenario(file).then(() => undefined, (e: Error) => e)
    expect(err?.message).toContain(file)
    for (const path of ['span', 'speed', 'fleet[0].profile', 'faults[0].profile', 'faults[1].kind', '(root)']) expect(err?.message).toContain(`  ${path}:`)
    expect(err?.message).toMatch(/does not apply to fridge/)
    expect(err?.message).toMatch(/colour/)
  })

  it('reports broken YAML and JSON as such', async () => {
    writeFileSync(path.join(dir, 'x.yaml'), 'name: [unclosed')
    writeFileSync(path.join(dir, 'x.json'), '{"name": ')
    await expect(loadScenario(path.join(dir, 'x.yaml'))).rejects.toThrow(/not valid YAML/)
    await expect(loadScenario(path.join(dir, 'x.json'))).rejects.toThrow(/not valid JSON/)
  })

  it('lets flags override the file and refuses a run that would end in the future', async () => {
    const file = path.join(SHIPPED, 'city-month.yaml')
    const now = Date.parse('2026-11-01T00:00:00Z')
    const opts = await parseCliOptions(['--scenario', file, '--devices', '8', '--profile', 'fridge', '--faults', '25%', '--speed', '60', '--duration', '1h'], {}, now)
    expect(opts.fleet.fleet).toEqual([{ profile: 'fridge', count: 8 }])
    expect(opts.fleet.randomFaults).toBe(0.25)
    expect(opts.fleet.spanMs).toBe(60 * 3_600_000)
    expect(opts.fleet.start).toBe(now - 60 * 3_600_000)
    await expect(parseCliOptions(['--span', '2d', '--start', '2026-10-31T00:00:00Z'], {}, now)).rejects.toThrow(/in the future/)
  })
})
