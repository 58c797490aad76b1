import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Webhook } from 'standardwebhooks'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'
import { startReceiver, type Receiver } from '../outbox/receiver.js'

const MINUTE = 60_000
// Event time three hours ago: rules run on the readings' ts, not on the wall clock.
const t0 = Date.now() - 3 * 3_600_000

describe.each(BACKENDS)('telemetry to signed webhook on %s', (backend) => {
  let t: TestGateway
  let crm: Receiver
  let secret: string
  let device: { id: string; secret: string }

  beforeAll(async () => {
    t = await startTestGateway(backend)
    crm = await startReceiver()
    ;[device] = await registerFleet(t)
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    const hook = expectStatus(await t.api('POST', '/webhooks', { url: crm.url, events: ['ticket.opened', 'ticket.updated'] }), 201)
    secret = hook.body.secret
    expect(secret).toMatch(/^whsec_/)
  }, 60_000)
  afterAll(async () => {
    await t?.close()
    await crm?.close()
  })

  it('opens one ticket for a breach held 10 minutes, then updates it on recurrence', async () => {
    const client = await t.connectDevice(device.id, device.secret)
    const publish = (minute: number, drain: number, seq: number) =>
      client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: t0 + minute * MINUTE, seq, metrics: { drain_time_s: drain } }), { qos: 1 })

    // 9 minutes above the limit is not yet a detection.
    for (let m = 0; m <= 9; m++) await publish(m, 150, m)
    await t.gateway.settle()
    expect((await t.api('GET', `/tickets?deviceId=${device.id}`)).body).toHaveLength(0)

    await publish(10, 160, 10)
    await t.gateway.settle()
    await vi.waitFor(() => expect(crm.received).toHaveLength(1), { timeout: 10_000 })

    const opened = crm.received[0]
    const verified = new Webhook(secret).verify(opened.body, opened.headers as Record<string, string>) as any
    expect(verified.type).toBe('ticket.opened')
    expect(verified.data.ticket).toMatchObject({
      deviceId: device.id, customerId: 'c-1', problem: 'drain-pump', status: 'open', occurrences: 1,
      detectedAt: new Date(t0 + 10 * MINUTE).toISOString(), ruleId: DRAIN_RULE.id, ruleVersion: 1, severity: 'major',
    })
    expect(verified.data.ticket.evidence).toMatchObject({ kind: 'threshold', metric: 'drain_time_s', limit: 120, value: 160, readings: 11 })

    // The run breaks, then the same problem holds again for 10 minutes.
    await publish(11, 90, 11)
    for (let m = 12; m <= 22; m++) await publish(m, 200, m)
    await t.gateway.settle()
    await vi.waitFor(() => expect(crm.received).toHaveLength(2), { timeout: 10_000 })

    const updated = new Webhook(secret).verify(crm.received[1].body, crm.received[1].headers as Record<string, string>) as any
    expect(updated.type).toBe('ticket.updated')
    expect(updated.data.ticket.id).toBe(verified.data.ticket.id)
    expect(updated.data.ticket.occurrences).toBe(2)
    expect(updated.data.ticket.lastDetectedAt).toBe(new Date(t0 + 22 * MINUTE).toISOString())
    expect(crm.received[1].headers['webhook-id']).not.toBe(opened.headers['webhook-id'])

    const list = (await t.api('GET', `/tickets?deviceId=${device.id}&problem=drain-pump&status=open`)).body
    expect(list).toHaveLength(1)
    const one = expectStatus(await t.api('GET', `/tickets/${list[0].id}`), 200).body
    expect(one).toMatchObject({ occurrences: 2, evidence: { value: 200 } })
    expect(one.detections.map((d: any) => d.detectedAt)).toEqual([22, 10].map((m) => new Date(t0 + m * MINUTE).toISOString()))
    // The rule notifies the customer: one message about the opening, however often it was detected.
    expect(one.notifications.map((n: any) => n.kind)).toEqual(['opened'])

    const metrics = await t.gateway.http.inject({ url: '/metrics' })
    expect(metrics.body).toMatch(/precall_readings_accepted_total\{kind="telemetry"\} 23/)
    expect(metrics.body).toMatch(/precall_tickets_total\{action="opened"\} 1/)
    expect(metrics.body).toMatch(/precall_deliveries_total\{outcome="delivered"\} 2/)
  }, 60_000)

  it('ignores a redelivered reading: same seq, stored once, no second detection', async () => {
    const client = await t.connectDevice(device.id, device.secret, { clientId: `${device.id}-again` })
    const before = (await t.api('GET', `/tickets?deviceId=${device.id}`)).body[0]
    const msg = JSON.stringify({ ts: t0 + 22 * MINUTE, seq: 22, metrics: { drain_time_s: 200 } })
    await client.publishAsync(`devices/${device.id}/telemetry`, msg, { qos: 1 })
    await t.gateway.settle()
    const metrics = (await t.gateway.http.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/precall_readings_duplicate_total 1/)
    expect((await t.api('GET', `/tickets/${before.id}`)).body.occurrences).toBe(before.occurrences)
  })
})
