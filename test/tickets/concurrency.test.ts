import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

describe('no duplicate ticket under concurrent contacts and detections (PostgreSQL)', () => {
  let t: TestGateway
  let devices: { id: string; secret: string }[]
  beforeAll(async () => {
    t = await startTestGateway('postgres')
    devices = await registerFleet(t, 5, 'race')
    expectStatus(await t.api('POST', '/rules', { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } }), 201)
  })
  afterAll(async () => t?.close())

  it('keeps one open ticket per device and problem whoever gets there first', async () => {
    const clients = await Promise.all(devices.map((d) => t.connectDevice(d.id, d.secret)))
    const ts = Date.now() - 60_000
    await Promise.all(devices.flatMap((d, i) => [
      ...Array.from({ length: 8 }, (_, k) => t.api('POST', '/contacts', { deviceId: d.id, channel: 'phone', reason: `call ${k}`, problem: 'drain-pump' })),
      clients[i].publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts, seq: 1, metrics: { drain_time_s: 400 } }), { qos: 1 }),
      ...Array.from({ length: 4 }, (_, k) => t.api('POST', '/contacts', { customerId: 'c-1', deviceId: d.id, channel: 'chat', reason: `chat ${k}`, problem: 'drain-pump' })),
    ]))
    await t.gateway.settle()
    for (const d of devices) {
      const open = (await t.api('GET', `/tickets?deviceId=${d.id}&problem=drain-pump`)).body
      expect(open, d.id).toHaveLength(1)
      const full = (await t.api('GET', `/tickets/${open[0].id}`)).body
      expect(full.history.filter((h: any) => h.action === 'contact' || (h.action === 'opened' && h.actor !== 'gateway')).length).toBe(12)
    }
    const metrics = (await t.gateway.http.inject({ url: '/metrics' })).body
    const count = (linkage: string) => Number(new RegExp(`precall_contacts_total\\{linkage="${linkage}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0)
    expect(count('known_problem') + count('new_complaint')).toBe(60)
  })
})
