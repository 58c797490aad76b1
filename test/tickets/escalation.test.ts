import { afterAll, describe, expect, it } from 'vitest'
import { createTestDatabaseUrl } from '../support/databases.js'
import { DRAIN_RULE, WASHER, expectStatus, startTestGateway, type TestGateway } from '../support/gateway.js'

const DAY = 86_400_000
const T0 = Date.parse('2026-11-02T02:00:00Z')

describe('SLA warning levels across a restart (PostgreSQL, injected clock)', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  it('raises 50 %, 80 % and 100 % once each, pauses while waiting on the customer', async () => {
    const db = await createTestDatabaseUrl()
    cleanup.push(db.drop)
    let clock = T0
    const env = { DATABASE_URL: db.url, SCHEDULER_POLL_MS: '3600000' }
    let t: TestGateway = await startTestGateway('postgres', env, { now: () => clock })
    cleanup.push(() => t.close())

    expectStatus(await t.api('POST', '/device-types', WASHER), 201)
    expectStatus(await t.api('POST', '/rules', { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } }), 201)
    const { secret } = expectStatus(await t.api('POST', '/devices', { id: 'wm-sla', typeId: 'washer' }), 201).body
    const hook = expectStatus(await t.api('POST', '/webhooks', { url: 'http://127.0.0.1:9/never', events: ['ticket.escalated'] }), 201).body
    const device = await t.connectDevice('wm-sla', secret)
    await device.publishAsync('devices/wm-sla/telemetry', JSON.stringify({ ts: T0, metrics: { drain_time_s: 500 } }), { qos: 1 })
    await t.gateway.settle()
    const [ticket] = (await t.api('GET', '/tickets?deviceId=wm-sla')).body
    expect(ticket.slaDueAt).toBe(new Date(T0 + 5 * DAY).toISOString())
    expect(ticket.nextEscalationAt).toBe(new Date(T0 + 2.5 * DAY).toISOString())
    const level = async () => (await t.api('GET', `/tickets/${ticket.id}`)).body

    clock = T0 + 2.5 * DAY - 1
    expect(await t.gateway.scheduler.runOnce()).toBe(0)
    clock = T0 + 2.5 * DAY
    await t.gateway.scheduler.runOnce()
    await t.gateway.scheduler.runOnce()
    expect((await level()).escalationLevel).toBe(1)

    // Waiting on the customer for one day stops the clock and moves every due time by a day.
    clock = T0 + 3 * DAY
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { slaPaused: true }), 200)
    clock = T0 + 4 * DAY
    expect(await t.gateway.scheduler.runOnce()).toBe(0)
    const resumed = expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { slaPaused: false }), 200).body
    expect(resumed.slaDueAt).toBe(new Date(T0 + 6 * DAY).toISOString())
    expect(resumed.nextEscalationAt).toBe(new Date(T0 + 5 * DAY).toISOString())

    // The gateway is down across both remaining levels; after the restart each is raised once.
    await t.close()
    clock = T0 + 7 * DAY
    t = await startTestGateway('postgres', env, { now: () => clock })
    await t.gateway.scheduler.runOnce()
    await t.gateway.scheduler.runOnce()
    const after = await level()
    expect(after).toMatchObject({ escalationLevel: 3, nextEscalationAt: null })
    expect(after.history.filter((h: any) => h.action === 'escalated').map((h: any) => h.changes.escalationLevel)).toEqual([1, 2, 3])
    const escalations = (await t.api('GET', `/deliveries?subscriptionId=${hook.id}`)).body
    expect(escalations.map((d: any) => d.payload.data.ticket.escalationLevel).sort()).toEqual([1, 2, 3])
    expect(escalations.every((d: any) => d.eventType === 'ticket.escalated')).toBe(true)
  })
})
