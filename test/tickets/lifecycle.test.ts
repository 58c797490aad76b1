import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, WASHER, expectStatus, startTestGateway, type TestGateway } from '../support/gateway.js'

const DAY = 86_400_000
const INSTANT_RULE = { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } }

describe.each(BACKENDS)('ticket lifecycle on %s', (backend) => {
  let t: TestGateway
  let clock = Date.parse('2026-11-02T02:00:00Z')
  let seq = 0
  const clients = new Map<string, MqttClient>()

  /** One reading above the limit: an instant detection at the current virtual time. */
  async function breach(deviceId: string) {
    const client = clients.get(deviceId)!
    await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts: clock, seq: seq++, metrics: { drain_time_s: 300 } }), { qos: 1 })
    await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts: clock + 1, seq: seq++, metrics: { drain_time_s: 60 } }), { qos: 1 })
    await t.gateway.settle()
  }
  const tickets = async (deviceId: string) => (await t.api('GET', `/tickets?deviceId=${deviceId}`)).body as any[]
  const patch = (id: string, body: object) => t.api('PATCH', `/tickets/${id}`, body)

  beforeAll(async () => {
    t = await startTestGateway(backend, { REPEAT_WINDOW_MS: String(30 * DAY) }, { now: () => clock })
    expectStatus(await t.api('POST', '/device-types', WASHER), 201)
    expectStatus(await t.api('POST', '/customers', { id: 'c-vip', name: 'V', tags: ['vip'] }), 201)
    expectStatus(await t.api('POST', '/customers', { id: 'c-plain', name: 'P' }), 201)
    expectStatus(await t.api('POST', '/rules', INSTANT_RULE), 201)
    for (const [id, customerId] of [['wm-life', 'c-plain'], ['wm-edge-in', 'c-plain'], ['wm-edge-out', 'c-plain'], ['wm-vip', 'c-vip']]) {
      const { secret } = expectStatus(await t.api('POST', '/devices', { id, typeId: 'washer', customerId, serial: `SN-${id}` }), 201).body
      clients.set(id, await t.connectDevice(id, secret))
    }
  })
  afterAll(async () => t?.close())

  it('walks the graph, refuses what is outside it, and treats a repeated patch as one change', async () => {
    await breach('wm-life')
    const [opened] = await tickets('wm-life')
    expect(opened).toMatchObject({ status: 'open', priority: 2, escalationLevel: 0 })

    const closing = await patch(opened.id, { status: 'closed' })
    expect(closing).toMatchObject({ status: 409, body: { code: 'PRECALL_ERR_TRANSITION' } })
    expect(closing.body.message).toContain('cannot become closed; it can become acknowledged, dispatched, resolved')

    const ack = expectStatus(await patch(opened.id, { status: 'acknowledged', externalId: 'SF-1001', comment: 'called the customer' }), 200).body
    expect(ack).toMatchObject({ status: 'acknowledged', externalId: 'SF-1001', changed: true, version: opened.version + 1 })
    const again = expectStatus(await patch(opened.id, { status: 'acknowledged', externalId: 'SF-1001', comment: 'called the customer' }), 200).body
    expect(again).toMatchObject({ changed: false, version: ack.version })

    expect((await patch(opened.id, { status: 'dispatched' })).body.message).toContain('needs a technician or an appointmentAt')
    expectStatus(await patch(opened.id, { status: 'dispatched', technician: 'Zhang San', appointmentAt: '2026-11-03T01:00:00Z' }), 200)
    expect((await patch(opened.id, { status: 'resolved' })).body.message).toContain('needs an outcome')
    expect((await patch(opened.id, { outcome: 'fixed' })).body.message).toContain('only be given with status resolved')
    const resolved = expectStatus(await patch(opened.id, { status: 'resolved', outcome: 'fixed' }), 200).body
    expect(resolved).toMatchObject({ status: 'resolved', outcome: 'fixed', nextEscalationAt: null })

    const full = (await t.api('GET', `/tickets/${opened.id}`)).body
    expect(full.history.map((h: any) => `${h.action}:${h.toStatus}`)).toEqual(['opened:open', 'status:acknowledged', 'status:dispatched', 'status:resolved'])
    expect(full.history[1]).toMatchObject({ actor: 'ADMIN_TOKEN', comment: 'called the customer', changes: { externalId: 'SF-1001' } })
    const events = (await t.api('GET', `/deliveries?ticketId=${opened.id}`)).body
    expect(events).toHaveLength(0) // no webhook subscription yet: nothing queued for nobody
  })

  it('reopens a resolved ticket when the problem comes back, then marks a recurrence after closing as a repeat', async () => {
    const [resolved] = await tickets('wm-life')
    clock += DAY
    await breach('wm-life')
    const [reopened, ...rest] = await tickets('wm-life')
    expect(rest).toHaveLength(0)
    expect(reopened).toMatchObject({ id: resolved.id, status: 'reopened', occurrences: 2, outcome: null })

    expectStatus(await patch(reopened.id, { status: 'resolved', outcome: 'replaced' }), 200)
    expectStatus(await patch(reopened.id, { status: 'closed' }), 200)
    expect((await patch(reopened.id, { status: 'reopened' })).status).toBe(409)

    clock += DAY
    await breach('wm-life')
    const [repeat] = await tickets('wm-life')
    expect(repeat).toMatchObject({ status: 'open', repeatOf: reopened.id, priority: 1 })
    const metrics = (await t.gateway.http.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/precall_tickets_total\{action="repeat"\} 1/)
  })

  it('counts a repeat only within the window after resolution, edges included', async () => {
    for (const [device, gap, repeat] of [['wm-edge-in', 30 * DAY, true], ['wm-edge-out', 30 * DAY + 1, false]] as const) {
      await breach(device)
      const [first] = await tickets(device)
      expectStatus(await patch(first.id, { status: 'resolved', outcome: 'fixed' }), 200)
      expectStatus(await patch(first.id, { status: 'closed' }), 200)
      const resolvedAt = clock
      clock = resolvedAt + gap
      await breach(device)
      const [second] = await tickets(device)
      expect(second.id).not.toBe(first.id)
      expect(second.repeatOf).toBe(repeat ? first.id : null)
      clock = resolvedAt
    }
  })

  it('raises priority for a VIP customer by the tag policy', async () => {
    await breach('wm-vip')
    const [vip] = await tickets('wm-vip')
    expect(vip.priority).toBe(1)
  })

  it('links a contact to the open ticket, and opens one complaint otherwise — never two', async () => {
    const [open] = await tickets('wm-vip')
    const known = expectStatus(await t.api('POST', '/contacts', { serial: 'SN-wm-vip', channel: 'phone', reason: 'washer does not drain' }), 200).body
    expect(known).toMatchObject({ contact: { linkage: 'known_problem' }, ticket: { id: open.id } })

    const first = expectStatus(await t.api('POST', '/contacts', { customerId: 'c-plain', deviceId: 'wm-edge-out', channel: 'chat', reason: 'door squeaks', problem: 'door' }), 201).body
    expect(first.ticket).toMatchObject({ type: 'complaint', source: 'contact', problem: 'door', status: 'open' })
    expect(Date.parse(first.ticket.slaDueAt) - Date.parse(first.ticket.openedAt)).toBe(3 * DAY)
    const second = expectStatus(await t.api('POST', '/contacts', { deviceId: 'wm-edge-out', channel: 'phone', reason: 'still squeaks', problem: 'door' }), 200).body
    expect(second.ticket.id).toBe(first.ticket.id)
    expect((await t.api('GET', `/tickets/${first.ticket.id}`)).body.history.map((h: any) => h.action)).toEqual(['opened', 'contact'])

    expect((await t.api('POST', '/contacts', { channel: 'phone', reason: 'x' })).body.message).toContain('name the customer')
    expect((await t.api('POST', '/contacts', { serial: 'nope', channel: 'phone', reason: 'x' })).status).toBe(404)
  })
})
