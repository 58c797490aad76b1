import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BROKER_PLACEMENTS, DRAIN_RULE, expectStatus, startTestGateway, type TestGateway } from '../support/gateway.js'

// The manufacturer's app back-end logs in to the embedded broker with an API token of role `app`
// and receives customers' notifications; it may do nothing else there, nor use the HTTP API.
describe.each(BROKER_PLACEMENTS)('with the broker %s, the app back-end logs in with an app token', (_, placement) => {
  let t: TestGateway
  let appToken: string
  const connectApp = (password: string, opts: mqtt.IClientOptions = {}) =>
    t.connectDevice('$app', password, { clientId: `app-${Math.random().toString(36).slice(2)}`, ...opts })
  const refusals = (reason: string) => t.metric('precall_mqtt_refused_total', `reason="${reason}"`)

  beforeAll(async () => {
    t = await startTestGateway('postgres', { ...placement, NOTIFY_QUIET_HOURS: 'off', NOTIFY_POLL_MS: '100' })
    appToken = expectStatus(await t.api('POST', '/tokens', { name: 'washer app', role: 'app' }), 201).body.token
  }, 60_000)
  afterAll(async () => t?.close())

  it('receives a customer\'s notification when a ticket opens, and the latest one retained when it subscribes later', async () => {
    const app = await connectApp(appToken)
    try {
      const got: { topic: string; payload: any; retain: boolean }[] = []
      app.on('message', (topic, payload, packet) => got.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain }))
      const granted = await app.subscribeAsync('customers/+/notifications', { qos: 1 })
      expect(granted.map((g) => g.qos)).toEqual([1])

      expectStatus(await t.api('POST', '/device-types', { id: 'washer', name: 'Washing machine', metrics: { drain_time_s: { unit: 's', min: 0, max: 3600 } } }), 201)
      expectStatus(await t.api('POST', '/customers', { id: 'c-app', name: 'Li', locale: 'en', timezone: 'UTC', channels: [{ type: 'mqtt', address: 'app', consent: true }] }), 201)
      const washer = expectStatus(await t.api('POST', '/devices', { id: `app-wm-${process.pid}`, typeId: 'washer', customerId: 'c-app', model: 'WM-8', serial: 'SN-1' }), 201).body
      expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
      const device = await t.connectDevice(washer.id, washer.secret)
      const t0 = Date.now() - 3_600_000
      for (let m = 0; m <= 10; m++) {
        await device.publishAsync(`devices/${washer.id}/telemetry`, JSON.stringify({ ts: t0 + m * 60_000, seq: m, metrics: { drain_time_s: 150 } }), { qos: 1 })
      }
      await vi.waitFor(() => expect(got).toHaveLength(1), { timeout: 10_000 })
      const [ticket] = (await t.api('GET', `/tickets?deviceId=${washer.id}`)).body
      expect(got[0]).toEqual({ topic: 'customers/c-app/notifications', retain: false, payload: expect.objectContaining({ customerId: 'c-app', ticketId: ticket.id, kind: 'opened' }) })

      // One customer's topic, subscribed later: the message kept for it, marked retained.
      const late = await connectApp(appToken)
      try {
        const retained = new Promise<[string, Buffer, mqtt.IPublishPacket]>((resolve) => late.once('message', (...args) => resolve(args)))
        await late.subscribeAsync('customers/c-app/notifications', { qos: 1 })
        const [topic, payload, packet] = await retained
        expect({ topic, retain: packet.retain, ticketId: JSON.parse(payload.toString()).ticketId }).toEqual({ topic: 'customers/c-app/notifications', retain: true, ticketId: ticket.id })
      } finally {
        await late.endAsync()
      }
    } finally {
      await app.endAsync()
    }
  }, 30_000)

  it('may subscribe to nothing else, and is counted when it tries', async () => {
    const app = await connectApp(appToken)
    try {
      const before = await refusals('acl_subscribe')
      const refused = ['devices/#', 'customers/#', '#', 'customers/c-app/#', 'customers/+/notifications/x', 'customers//notifications']
      for (const topic of refused) await expect(app.subscribeAsync(topic, { qos: 1 })).rejects.toThrow(/Subscribe error/)
      expect(await refusals('acl_subscribe')).toBe(before + refused.length)
      // Still connected, and still allowed its own.
      expect((await app.subscribeAsync('customers/+/notifications', { qos: 1 })).map((g) => g.qos)).toEqual([1])
    } finally {
      await app.endAsync()
    }
  })

  it('may publish nothing: a publish closes its connection and is counted', async () => {
    const app = await connectApp(appToken)
    const before = await refusals('acl_publish')
    const closed = new Promise<void>((resolve) => app.once('close', () => resolve()))
    app.publish('customers/c-app/notifications', '{"forged":true}', { qos: 1 })
    await closed
    expect(await refusals('acl_publish')).toBe(before + 1)
    await app.endAsync(true)
  })

  it('cannot speak for a device through its last will', async () => {
    const device = `app-wm-${process.pid}`
    const statuses = () => t.gateway.database.query<{ n: number }>(sql`select count(*)::int as n from readings where device_id = ${device} and kind = 'status'`)
    const stored = (await statuses())[0]!.n
    const before = await refusals('acl_publish')
    const app = await connectApp(appToken, { will: { topic: `devices/${device}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } })
    // Gone without DISCONNECT: the broker publishes the will, if it may.
    app.stream.destroy()
    await vi.waitFor(async () => expect(await refusals('acl_publish')).toBe(before + 1))
    expect((await statuses())[0]!.n).toBe(stored)
    await app.endAsync(true)
  })

  it('refuses any other token and a revoked app token; the app token opens no HTTP route', async () => {
    const viewer = expectStatus(await t.api('POST', '/tokens', { name: 'dashboard', role: 'viewer' }), 201).body.token
    const revoked = expectStatus(await t.api('POST', '/tokens', { name: 'old app', role: 'app' }), 201).body
    await (await connectApp(revoked.token)).endAsync()
    expectStatus(await t.api('DELETE', `/tokens/${revoked.id}`), 204)
    for (const password of [viewer, revoked.token, 'not-a-token']) {
      await expect(connectApp(password)).rejects.toThrow(/Bad username or password/)
    }
    // The app's token is no key to the HTTP API.
    expect((await t.api('GET', '/tickets', undefined, appToken)).status).toBe(403)
  })
})
