import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROFILE_IDS } from '../../device-sim/profiles/profile.js'
import { DAY, plan, playThrough, RULE_KINDS, startSimGateway, type SimGateway } from './sim-harness.js'

// A healthy fleet must not open tickets: one simulated week in the hottest and in the coldest
// month (fridges work hardest in July, air conditioners heat in January), with the catalogue's rules.
describe('a healthy fleet over a simulated week', () => {
  let g: SimGateway
  beforeAll(async () => {
    g = await startSimGateway()
  }, 60_000)
  afterAll(async () => {
    await g?.close()
  })

  it.each([
    ['July', '2026-07-06T00:00:00+08:00', 'jul-'],
    ['January', '2026-01-12T00:00:00+08:00', 'jan-'],
  ])('opens no ticket in %s', async (_month, start, idPrefix) => {
    expect(g.loaded.rules.filter((r) => r.action === 'created').length, `catalogue rules loaded (${JSON.stringify(RULE_KINDS)})`).toBeGreaterThan(10)
    const fleet = plan({ seed: 7, start: Date.parse(start), spanMs: 7 * DAY, idPrefix, fleet: PROFILE_IDS.map((profile) => ({ profile, count: 2 })) })
    const stats = await playThrough(g, fleet)
    expect(stats.acked).toBe(stats.sent)
    expect(stats.acked).toBeGreaterThan(7 * 144 * 6) // six continuously reporting appliances at least
    expect(await g.t.metric('precall_readings_accepted_total', 'kind="telemetry"')).toBeGreaterThan(0)
    const tickets = (await g.api.listTickets()).filter((t) => t.deviceId.startsWith(idPrefix))
    expect(tickets.map((t) => `${t.deviceId} ${t.problem} ${t.detectedAt} (${t.ruleId})`)).toEqual([])
  }, 120_000)
})
