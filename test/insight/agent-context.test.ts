import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startReceiver, type Receiver } from '../outbox/receiver.js'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, WASHER, expectStatus, startTestGateway, type TestGateway } from '../support/gateway.js'

const DAY = 86_400_000
const MINUTE = 60_000
const T0 = Date.parse('2026-11-02T02:00:00Z') // 10:00 in Shanghai
const FRIDGE = { id: 'fridge', name: 'Fridge', metrics: { temp_c: { unit: '°C', min: -40, max: 60 } } }
const WARMING_RULE = {
  id: 'fridge-warming', name: 'Fridge warming up', deviceType: 'fridge',
  when: { kind: 'trend', metric: 'temp_c', op: '>=', value: 10, within: '7d', over: '1h' },
  severity: 'minor', ticket: { problem: 'cooling', type: 'predicted_failure', title: 'Cooling failing' }, notifyCustomer: false, mode: 'active',
}

describe.each(BACKENDS)('agent context on %s', (backend) => {
  let t: TestGateway
  let crm: Receiver
  let clock = T0 - 100 * DAY
  const clients = new Map<string, MqttClient>()
  const publish = (id: string, topic: string, payload: object | string) =>
    clients.get(id)!.publishAsync(`devices/${id}/${topic}`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain: topic === 'status' })
  const context = (path: string, token?: string) => t.api('GET', path, undefined, token)

  /** A complaint opened by a contact at the current virtual time, then fixed and closed. */
  async function pastComplaint(deviceId: string, problem: string) {
    const { ticket } = expectStatus(await t.api('POST', '/contacts', { deviceId, channel: 'phone', reason: `${problem} again`, problem }), 201).body
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'resolved', outcome: 'fixed' }), 200)
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'closed' }), 200)
    return ticket.id as string
  }

  beforeAll(async () => {
    t = await startTestGateway(backend, {}, { now: () => clock })
    crm = await startReceiver([{ status: 500, body: 'crm down' }])
    expectStatus(await t.api('POST', '/device-types', WASHER), 201)
    expectStatus(await t.api('POST', '/device-types', FRIDGE), 201)
    expectStatus(await t.api('POST', '/customers', {
      id: 'c-ctx', name: 'Wang Fang', locale: 'zh-CN', timezone: 'Asia/Shanghai', tags: ['elderly'],
      channels: [{ type: 'sms', address: '+8613800000000', consent: true }],
    }), 201)
    expectStatus(await t.api('POST', '/customers', { id: 'c-other', name: 'Other' }), 201)
    for (const [id, typeId, customerId] of [['wm-ctx', 'washer', 'c-ctx'], ['fr-ctx', 'fridge', 'c-ctx'], ['wm-other', 'washer', 'c-other']]) {
      const { secret } = expectStatus(await t.api('POST', '/devices', { id, typeId, customerId, model: `${typeId}-9`, serial: `SN-${id}` }), 201).body
      clients.set(id, await t.connectDevice(id, secret))
    }
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    expectStatus(await t.api('POST', '/rules', WARMING_RULE), 201)

    // History: a fridge complaint 100 days ago (outside the default window), a washer one 10 days ago.
    await pastComplaint('fr-ctx', 'door')
    clock = T0 - 10 * DAY
    await pastComplaint('wm-ctx', 'noise')
    await pastComplaint('wm-other', 'noise')

    clock = T0 + 60 * MINUTE
    expectStatus(await t.api('POST', '/webhooks', { url: crm.url, events: ['ticket.opened'] }), 201)
    // The washer drains slowly for 10 minutes from 10:02 Shanghai time, then recovers.
    const drains = [125, 130, 135, 140, 145, 150, 155, 160, 150, 140, 135]
    for (const [i, drain] of drains.entries()) await publish('wm-ctx', 'telemetry', { ts: T0 + (2 + i) * MINUTE, seq: i, metrics: { drain_time_s: drain } })
    await publish('wm-ctx', 'telemetry', { ts: T0 + 13 * MINUTE, seq: 99, metrics: { drain_time_s: 60, motor_current_a: 1.2 } })
    // A bare status word carries no ts: the rules place it at the device's own event time.
    await publish('wm-ctx', 'status', 'online')
    await vi.waitFor(async () => expect((await t.api('GET', '/devices/wm-ctx')).body.status).toBe('online'))
    await t.gateway.settle()
    // The CRM answers the drain ticket's webhook with 500: it stays pending, one attempt logged.
    await vi.waitFor(async () => expect((await t.api('GET', '/deliveries')).body[0]?.attempts).toBe(1))

    // The fridge warms 1 °C every 10 minutes: the line reaches 10 °C at 03:10Z (11:10 in Shanghai).
    for (let i = 0; i <= 5; i++) await publish('fr-ctx', 'telemetry', { ts: T0 + i * 10 * MINUTE, seq: i, metrics: { temp_c: 3 + i } })
    // A late message with an older ts does not become the "last reading".
    await publish('fr-ctx', 'telemetry', { ts: T0 + 45 * MINUTE, seq: 6, metrics: { temp_c: 7.5 } })
    await t.gateway.settle()
    await vi.waitFor(async () => expect((await t.api('GET', '/deliveries?status=delivered')).body).toHaveLength(1))

    expectStatus(await t.api('POST', '/contacts', { serial: 'SN-wm-ctx', channel: 'phone', reason: 'the washer does not drain', problem: 'drain-pump' }), 200)
  }, 60_000)
  afterAll(async () => {
    await t?.close()
    await crm?.close()
  })

  it('shows the customer, both appliances with their newest readings, and nobody else\'s', async () => {
    const viewer = expectStatus(await t.api('POST', '/tokens', { name: 'agent-desk', role: 'viewer' }), 201).body.token
    const body = expectStatus(await context('/customers/c-ctx/context', viewer), 200).body
    expect(body.customer).toEqual({
      id: 'c-ctx', name: 'Wang Fang', locale: 'zh-CN', timezone: 'Asia/Shanghai', tags: ['elderly'],
      channels: [{ type: 'sms', address: '+8613800000000', consent: true }],
      preferredChannel: { type: 'phone', because: 'tag elderly' },
    })
    expect(body.devices.map((d: any) => d.id)).toEqual(['fr-ctx', 'wm-ctx'])
    const [fridge, washer] = body.devices
    expect(washer).toMatchObject({ typeId: 'washer', typeName: 'Washing machine', model: 'washer-9', serial: 'SN-wm-ctx', status: 'online' })
    expect(washer.lastReading).toEqual({
      ts: new Date(T0 + 13 * MINUTE).toISOString(),
      metrics: { drain_time_s: { value: 60, unit: 's' }, motor_current_a: { value: 1.2, unit: 'A' } },
    })
    expect(fridge.lastReading).toEqual({ ts: new Date(T0 + 50 * MINUTE).toISOString(), metrics: { temp_c: { value: 8, unit: '°C' } } })
  })

  it('lists open tickets with their evidence in words, recent ones within the window, and predicted failures', async () => {
    const body = (await context('/customers/c-ctx/context')).body
    const open = Object.fromEntries(body.openTickets.map((x: any) => [x.problem, x]))
    expect(Object.keys(open).sort()).toEqual(['cooling', 'drain-pump'])
    expect(open['drain-pump'].evidenceInWords).toBe('drain_time_s has been above 120 s for 10 min (11 readings, up to 160 s) since 2026-11-02 10:02 (customer time)')
    expect(open.cooling.evidenceInWords).toMatch(/^temp_c is rising 6 °C per hour over the last 1 h \(\d readings, fit R² 1\); predicted to reach 10 °C around 2026-11-02 11:10 \(customer time\)$/)
    expect(body.predictedFailures).toEqual([{
      ticketId: open.cooling.id, deviceId: 'fr-ctx', problem: 'cooling', title: 'Cooling failing',
      predictedFailureAt: '2026-11-02T03:10:00.000Z', inWords: 'Cooling failing: predicted around 2026-11-02 11:10 (customer time)',
    }])
    // 90 days back by default: the washer noise complaint is in, the fridge door one (100 days ago) is not.
    expect(body.recentTickets.map((x: any) => [x.problem, x.status])).toEqual([['noise', 'closed']])
    expect(body.recentTickets[0].evidenceInWords).toBe('the customer got in touch by phone: "noise again"')
    const wider = (await context('/customers/c-ctx/context?days=120')).body
    expect(wider.recentTickets.map((x: any) => x.problem)).toEqual(['noise', 'door'])
  })

  it('shows recent contacts and what the CRM was sent about these tickets, with delivery state', async () => {
    const body = (await context('/customers/c-ctx/context')).body
    const drain = body.openTickets.find((x: any) => x.problem === 'drain-pump')
    const cooling = body.openTickets.find((x: any) => x.problem === 'cooling')
    expect(body.contacts.map((c: any) => [c.reason, c.linkage, c.ticketId === drain.id])).toEqual([
      ['the washer does not drain', 'known_problem', true],
      ['noise again', 'new_complaint', false],
    ])
    expect(body.deliveries.map((d: any) => [d.ticketId, d.event, d.status, d.attempts])).toEqual([
      [cooling.id, 'ticket.opened', 'delivered', 1],
      [drain.id, 'ticket.opened', 'pending', 1],
    ])
    expect(body.deliveries[1]).toMatchObject({ url: crm.url, lastAttempt: { statusCode: 500 } })
    expect(body.deliveries[1].lastError).toContain('500')
    expect(body.deliveries[0]).toMatchObject({ lastError: null, lastAttempt: { statusCode: 200, outcome: 'delivered' } })
    // The drain rule notifies the customer: the agent sees that message and how far it got.
    expect(body.notifications).toEqual(expect.arrayContaining([expect.objectContaining({ ticketId: drain.id, kind: 'opened' })]))
    expect(body.notifications.every((n: any) => typeof n.status === 'string')).toBe(true)
    const other = (await context('/customers/c-other/context')).body
    expect(other.notifications.some((n: any) => n.ticketId === drain.id)).toBe(false)
  })

  it('narrows to one appliance for a device context', async () => {
    const body = expectStatus(await context('/devices/wm-ctx/context'), 200).body
    expect(body.customer.id).toBe('c-ctx')
    expect(body.devices.map((d: any) => d.id)).toEqual(['wm-ctx'])
    expect(body.openTickets.map((x: any) => x.problem)).toEqual(['drain-pump'])
    expect(body.recentTickets.map((x: any) => x.problem)).toEqual(['noise'])
    expect(body.predictedFailures).toEqual([])
    expect(body.contacts).toHaveLength(2)
    expect(body.deliveries.map((d: any) => d.status)).toEqual(['pending'])
  })

  it('answers 404 for an unknown customer or device and 400 for a bad window', async () => {
    expect((await context('/customers/nobody/context')).body.code).toBe('PRECALL_ERR_NOT_FOUND')
    expect((await context('/devices/nothing/context')).body.code).toBe('PRECALL_ERR_NOT_FOUND')
    expect((await context('/customers/c-ctx/context?days=0')).status).toBe(400)
  })
})
