import { once } from 'node:events'
import type { Worker } from 'node:worker_threads'
import { createServer, type AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

// The broker thread's own behaviour; what it shares with the broker on the event loop's thread
// (refusals, admission, redelivery) runs in both placements in those tests.
describe('the embedded broker on its own thread (MQTT_BROKER_THREAD)', () => {
  let t: TestGateway
  let device: { id: string; secret: string }

  beforeAll(async () => {
    t = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true', NOTIFY_DEVICE_NOTICE: 'true', NOTIFY_QUIET_HOURS: 'off', NOTIFY_POLL_MS: '100' })
    ;[device] = await registerFleet(t, 1, `bth${process.pid}`)
  }, 60_000)
  afterAll(async () => t?.close())

  it('stores what devices publish, from many connections at once, and acknowledges each once stored', async () => {
    const fleet = await registerFleet2(t, 20)
    const clients = await Promise.all(fleet.map((d) => t.connectDevice(d.id, d.secret)))
    const ts = Date.now() - 60_000
    // Different payload sizes and topics cross in the same batches.
    await Promise.all(clients.flatMap((client, i) => Array.from({ length: 25 }, (_, seq) =>
      client.publishAsync(`devices/${fleet[i]!.id}/telemetry`, JSON.stringify({ ts: ts + seq, seq, metrics: { drain_time_s: seq * 10 + i, ...(seq % 2 ? { motor_current_a: 1.5 } : {}) } }), { qos: 1 }))))
    // Acknowledged means committed: no settle() before reading them back.
    const rows = await t.gateway.database.query<{ device_id: string; n: number; drain: number }>(sql`
      select device_id, count(*)::int as n, sum((metrics->>'drain_time_s')::int)::int as drain from readings where device_id like 'btf-%' group by device_id order by device_id`)
    expect(rows).toEqual(fleet.map((d, i) => ({ device_id: d.id, n: 25, drain: 25 * i + 10 * (24 * 25) / 2 })))
    expect(await t.scrape()).toMatch(/^precall_mqtt_clients 20$/m)
    await Promise.all(clients.map((c) => c.endAsync()))
    await vi.waitFor(async () => expect(await t.scrape()).toMatch(/^precall_mqtt_clients 0$/m))
  })

  it('sends the gateway\'s own messages to devices: a ticket\'s notice reaches the appliance\'s display, retained', async () => {
    expectStatus(await t.api('POST', '/customers', { id: 'c-mqtt', name: 'Ana', locale: 'en', timezone: 'UTC', channels: [{ type: 'mqtt', address: 'app', consent: true }] }), 201)
    const washer = expectStatus(await t.api('POST', '/devices', { id: `btn${process.pid}`, typeId: 'washer', customerId: 'c-mqtt', model: 'WM-8', serial: 'SN-btn' }), 201).body
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    const client = await t.connectDevice(washer.id, washer.secret)
    const t0 = Date.now() - 3_600_000
    const display = await t.connectDevice(washer.id, washer.secret, { clientId: `${washer.id}-display` })
    const live: { topic: string; payload: any }[] = []
    display.on('message', (topic, payload) => live.push({ topic, payload: JSON.parse(payload.toString()) }))
    await display.subscribeAsync(`devices/${washer.id}/commands/#`, { qos: 1 })
    for (let m = 0; m <= 10; m++) {
      await client.publishAsync(`devices/${washer.id}/telemetry`, JSON.stringify({ ts: t0 + m * 60_000, seq: m, metrics: { drain_time_s: 150 } }), { qos: 1 })
    }
    await vi.waitFor(() => expect(live).toHaveLength(1), { timeout: 10_000 })
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${washer.id}`)).body
    expect(live[0]).toEqual({ topic: `devices/${washer.id}/commands/notice`, payload: expect.objectContaining({ ticketId: ticket.id, deviceId: washer.id, kind: 'opened' }) })
    // Published retained: a display that subscribes later gets it too, marked as retained.
    const late = await t.connectDevice(washer.id, washer.secret, { clientId: `${washer.id}-late` })
    const retained = new Promise<[string, Buffer, mqtt.IPublishPacket]>((resolve) => late.once('message', (...args) => resolve(args)))
    await late.subscribeAsync(`devices/${washer.id}/commands/#`, { qos: 1 })
    const [topic, , packet] = await retained
    expect({ topic, retain: packet.retain }).toEqual({ topic: `devices/${washer.id}/commands/notice`, retain: true })
  }, 30_000)

  it('has what it counted in the next scrape, of chosen metrics too: a refusal a device has just seen', async () => {
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'bt-bad', username: device.id, password: 'not-the-secret', reconnectPeriod: 0 }))
      .rejects.toThrow(/Bad username or password/)
    const body = await t.scrape('precall_mqtt_refused_total')
    expect(body).toMatch(/^precall_mqtt_refused_total\{reason="bad_credentials"\} 1$/m)
  })

  it('refuses to start on a port already taken, naming the port', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    const { port } = taken.address() as AddressInfo
    try {
      await expect(startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true', MQTT_PORT: String(port) }))
        .rejects.toMatchObject({ code: 'EADDRINUSE', port })
    } finally {
      taken.close()
    }
  }, 30_000)

  it('stops listening on close: the port refuses connections afterwards', async () => {
    const other = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true' })
    const url = other.mqttUrl
    await other.close()
    await expect(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 })).rejects.toThrow(/ECONNREFUSED/)
  }, 30_000)

  /** `count` more washers of the fleet's customer, as btf-NN. */
  async function registerFleet2(gateway: TestGateway, count: number) {
    const out: { id: string; secret: string }[] = []
    for (let i = 0; i < count; i++) {
      const id = `btf-${String(i).padStart(2, '0')}`
      const res = expectStatus(await gateway.api('POST', '/devices', { id, typeId: 'washer', customerId: 'c-1', model: 'WM-8', serial: `SN-${id}` }), 201)
      out.push({ id, secret: res.body.secret })
    }
    return out
  }
})

describe('a broker thread that stops without being closed', () => {
  it('is started again on its port: readyz fails meanwhile, devices reconnect and send again what was not acknowledged', async () => {
    const threads: Worker[] = []
    const t = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true' }, { onBrokerThread: (worker) => threads.push(worker) })
    try {
      const [device] = await registerFleet(t, 1, `btr${process.pid}`)
      const client = await t.connectDevice(device!.id, device!.secret, { reconnectPeriod: 100 })
      const ready = async () => (await t.gateway.http.inject({ url: '/readyz' })).statusCode
      const publish = (seq: number) => client.publishAsync(`devices/${device!.id}/telemetry`, JSON.stringify({ ts: Date.now() - 60_000 + seq, seq, metrics: { drain_time_s: seq } }), { qos: 1 })
      await publish(1)
      expect(await t.scrape()).toMatch(/^precall_mqtt_clients 1$/m)
      expect(threads).toHaveLength(1)

      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
      await threads[0]!.terminate()
      await closed
      // Down until the next thread listens: not ready, its connections off the gauge, publishes refused.
      await vi.waitFor(async () => expect(await ready()).toBe(503), { interval: 5 })
      expect(await t.scrape()).toMatch(/^precall_mqtt_clients 0$/m)
      // Sent while the broker is away: MQTT.js keeps it and sends it again once reconnected.
      const resent = publish(2)

      await resent
      expect(threads).toHaveLength(2)
      expect(threads[1]!.threadId).not.toBe(threads[0]!.threadId)
      expect(await ready()).toBe(200)
      await publish(3)
      const seqs = await t.gateway.database.query<{ seq: number }>(sql`select seq from readings where device_id = ${device!.id} order by seq`)
      expect(seqs.map((r) => Number(r.seq))).toEqual([1, 2, 3])
      const metrics = await t.scrape()
      expect(metrics).toMatch(/^precall_broker_thread_restarts_total 1$/m)
      expect(metrics).toMatch(/^precall_mqtt_clients 1$/m)
    } finally {
      await t.close()
    }
    // Closed after a restart, the thread it started is gone too.
    expect(threads[1]!.threadId).toBe(-1)
  }, 30_000)

  it('is not started again once the gateway closes while it waits to', async () => {
    const threads: Worker[] = []
    const t = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true' }, { onBrokerThread: (worker) => threads.push(worker) })
    const url = t.mqttUrl
    await threads[0]!.terminate()
    await t.close()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(threads).toHaveLength(1)
    await expect(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 })).rejects.toThrow(/ECONNREFUSED/)
  }, 30_000)

  it('tries again while its port is taken, and listens once it is free', async () => {
    const threads: Worker[] = []
    const t = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true' }, { onBrokerThread: (worker) => threads.push(worker) })
    const squatter = createServer()
    try {
      const ready = async () => (await t.gateway.http.inject({ url: '/readyz' })).statusCode
      await threads[0]!.terminate()
      // The port is free once the thread is gone; something else takes it before the restart.
      squatter.listen(t.mqttPort, '127.0.0.1')
      await once(squatter, 'listening')
      // Attempts after waits of 0.1, 0.2, 0.4, … s find it taken: each starts a thread that exits.
      await new Promise((resolve) => setTimeout(resolve, 1_600))
      expect(threads.length).toBeGreaterThanOrEqual(2)
      expect(await ready()).toBe(503)
      await new Promise<void>((resolve) => squatter.close(() => resolve()))
      await vi.waitFor(async () => expect(await ready()).toBe(200), { timeout: 10_000, interval: 50 })
      const [device] = await registerFleet(t, 1, `btp${process.pid}`)
      const client = await t.connectDevice(device!.id, device!.secret)
      await client.publishAsync(`devices/${device!.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, metrics: { drain_time_s: 1 } }), { qos: 1 })
      expect(await t.scrape('precall_broker_thread_restarts_total')).toMatch(/^precall_broker_thread_restarts_total 1$/m)
    } finally {
      squatter.close()
      await t.close()
    }
  }, 30_000)

  it('loses no acknowledged reading when it stops under load: 10 devices publishing throughout, every one stored once', async () => {
    const threads: Worker[] = []
    const t = await startTestGateway('postgres', { MQTT_BROKER_THREAD: 'true' }, { onBrokerThread: (worker) => threads.push(worker) })
    try {
      const fleet = await registerFleet(t, 10, `btl${process.pid}`)
      const clients = await Promise.all(fleet.map((d) => t.connectDevice(d.id, d.secret, { reconnectPeriod: 100 })))
      const EACH = 60
      const ts = Date.now() - 3_600_000
      let published = 0
      const publishing = Promise.all(clients.map(async (client, i) => {
        for (let seq = 0; seq < EACH; seq++) {
          await client.publishAsync(`devices/${fleet[i]!.id}/telemetry`, JSON.stringify({ ts: ts + seq * 1000, seq, metrics: { drain_time_s: seq } }), { qos: 1 })
          published++
        }
      }))
      // Mid-way, with readings in flight.
      await vi.waitFor(() => expect(published).toBeGreaterThan(EACH * 10 / 3), { interval: 1 })
      await threads[0]!.terminate()
      await publishing
      expect(threads).toHaveLength(2)
      const rows = await t.gateway.database.query<{ device_id: string; n: number; distinct_seqs: number }>(sql`
        select device_id, count(*)::int as n, count(distinct seq)::int as distinct_seqs from readings where device_id like ${`btl${process.pid}%`} group by device_id order by device_id`)
      expect(rows).toEqual(fleet.map((d) => ({ device_id: d.id, n: EACH, distinct_seqs: EACH })).sort((a, b) => a.device_id.localeCompare(b.device_id)))
    } finally {
      await t.close()
    }
  }, 60_000)
})
