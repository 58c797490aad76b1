import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const MINUTE = 60_000
const T0 = Date.now() - 6 * 3_600_000
const FROM = new Date(T0 - MINUTE).toISOString()
const TO = new Date(T0 + 3 * 3_600_000).toISOString()
// drain_time_s per minute: device 0 breaches 150 for 12 minutes, device 1 hovers at 110.
const SERIES = [
  Array.from({ length: 30 }, (_, m) => (m >= 5 && m < 17 ? 150 : 60)),
  Array.from({ length: 30 }, (_, m) => (m >= 5 && m < 17 ? 110 : 60)),
]

// A windowed kind next to the threshold: live and backtest must agree on every kind.
const AVG_RULE = {
  ...DRAIN_RULE, id: 'washer-drain-average', ticket: { problem: 'drain-average', title: 'Drain slow on average' },
  when: { kind: 'aggregate', metric: 'drain_time_s', fn: 'avg', over: '10m', op: '>', value: 100, minPoints: 5 },
}

describe.each(BACKENDS)('backtest on %s', (backend) => {
  let t: TestGateway
  let devices: { id: string; secret: string }[]
  beforeAll(async () => {
    t = await startTestGateway(backend)
    devices = await registerFleet(t, 2, 'bt')
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    expectStatus(await t.api('POST', '/rules', AVG_RULE), 201)
    for (const [i, d] of devices.entries()) {
      const client = await t.connectDevice(d.id, d.secret)
      for (const [m, drain] of SERIES[i].entries()) {
        await client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts: T0 + m * MINUTE, seq: m, metrics: { drain_time_s: drain } }), { qos: 1 })
      }
    }
    await t.gateway.settle()
  })
  afterAll(async () => t?.close())

  it('gives the same detections from the store as the live engine gave over MQTT', async () => {
    // jsonb keeps keys in its own order: compare evidence with sorted keys.
    const key = (d: any) => `${d.ruleId} ${d.deviceId} ${new Date(d.detectedAt).toISOString()} ${JSON.stringify(Object.entries(d.evidence).sort())}`
    const live = (await t.api('GET', '/detections')).body.map(key).sort()
    expect(live).toHaveLength(3) // the threshold on device 0; the average on both
    const replay = expectStatus(await t.api('POST', '/rules/backtest', { rules: [DRAIN_RULE, AVG_RULE], from: FROM, to: TO }), 200).body
    expect(replay.readingsReplayed).toBe(60)
    expect(replay.detections.map(key).sort()).toEqual(live)
  })

  it('shows what a draft would do, scored against real outcomes', async () => {
    const [real] = (await t.api('GET', `/tickets?deviceId=${devices[0].id}`)).body
    expectStatus(await t.api('POST', '/contacts', { deviceId: devices[0].id, channel: 'phone', reason: 'water left in the drum' }), 200)
    expectStatus(await t.api('PATCH', `/tickets/${real.id}`, { status: 'resolved', outcome: 'fixed' }), 200)

    const draft = { ...DRAIN_RULE, id: 'drain-draft', when: { ...DRAIN_RULE.when, value: 100 } }
    const result = expectStatus(await t.api('POST', '/rules/backtest', { rules: [draft], from: FROM, to: TO }), 200).body
    expect(result.rules).toEqual([expect.objectContaining({ id: 'drain-draft', detections: 2, tickets: 2, devices: 2, confirmed: 1, falseAlarms: 0, precision: 1 })])
    const confirmed = result.tickets.find((x: any) => x.verdict === 'confirmed')
    expect(confirmed).toMatchObject({ deviceId: devices[0].id, matchedTicketId: real.id, outcome: 'fixed' })
    // The customer called (now) long after the draft's detection in event time: that is the lead.
    expect(confirmed.leadTimeMs).toBeGreaterThan(5 * 3_600_000)
    expect(result.tickets.find((x: any) => x.deviceId === devices[1].id).verdict).toBe('unknown')
    // Nothing was written by the backtest.
    expect((await t.api('GET', '/detections?ruleId=drain-draft')).body).toHaveLength(0)
  })

  it('refuses an invalid draft with the path inside the request', async () => {
    const res = await t.api('POST', '/rules/backtest', { rules: [DRAIN_RULE, { ...DRAIN_RULE, when: { ...DRAIN_RULE.when, metric: 'drian_time_s' } }], from: FROM, to: TO })
    expect(res.status).toBe(422)
    expect(res.body.problems).toEqual([expect.objectContaining({ path: 'rules[1].when.metric' })])
    expect((await t.api('POST', '/rules/backtest', { rules: [DRAIN_RULE], from: TO, to: FROM })).status).toBe(400)
  })
})
