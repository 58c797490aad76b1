import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SHARED_DEVICE_TOPICS } from '../../gateway/mqtt-topics.js'
import { registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

describe('events and status over the embedded broker', () => {
  let t: TestGateway
  let device: { id: string; secret: string }
  beforeAll(async () => {
    t = await startTestGateway('postgres')
    ;[device] = await registerFleet(t)
  })
  afterAll(async () => t?.close())

  it('stores events, retained status and the last will, and tracks the device status', async () => {
    const client = await t.connectDevice(device.id, device.secret, {
      will: { topic: `devices/${device.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    const ts = Date.now() - 1000
    await client.publishAsync(`devices/${device.id}/status`, 'online', { qos: 1, retain: true })
    await client.publishAsync(`devices/${device.id}/events`, JSON.stringify({ ts, seq: 1, code: 'E21', detail: { phase: 'drain' } }), { qos: 1 })
    await t.gateway.settle()
    expect((await t.api('GET', `/devices/${device.id}`)).body.status).toBe('online')

    // An unclean disconnect publishes the will.
    client.stream.destroy()
    await vi.waitFor(async () => expect((await t.api('GET', `/devices/${device.id}`)).body.status).toBe('offline'), { timeout: 10_000, interval: 50 })
    const rows = await t.gateway.database.query<{ kind: string; code: string | null; state: string | null; detail: unknown }>(
      sql`select kind, code, state, detail from readings where device_id = ${device.id} order by id`)
    expect(rows).toEqual([
      { kind: 'status', code: null, state: 'online', detail: { tsFromArrival: true } },
      { kind: 'event', code: 'E21', state: null, detail: { phase: 'drain' } },
      { kind: 'status', code: null, state: 'offline', detail: { tsFromArrival: true } },
    ])
  })

  it('refuses an unknown status word and a topic outside the contract', async () => {
    const client = await t.connectDevice(device.id, device.secret, { clientId: 'second' })
    await client.publishAsync(`devices/${device.id}/status`, 'sleepy', { qos: 1 })
    await client.publishAsync(`devices/${device.id}/diagnostics`, '{}', { qos: 1 })
    await t.gateway.settle()
    const kept = (await t.api('GET', `/rejections?deviceId=${device.id}`)).body.map((r: any) => r.reason).sort()
    expect(kept).toEqual(['invalid_payload', 'unknown_topic'])
  })
})

describe('ingest from an external broker (Mosquitto on 1883)', () => {
  let t: TestGateway
  let device: { id: string; secret: string }
  const topic = `$share/precall-test-${process.pid}/devices/+/+`
  beforeAll(async () => {
    t = await startTestGateway('postgres', { MQTT_URL: 'mqtt://127.0.0.1:1883' }, { mqttTopic: topic })
    ;[device] = await registerFleet(t, 1, `ext${process.pid}`)
  })
  afterAll(async () => t?.close())

  it('stores what devices publish to the external broker, refusing bad payloads the same way', async () => {
    expect(SHARED_DEVICE_TOPICS).toBe('$share/precall/devices/+/+')
    const publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${device.id}-pub`, reconnectPeriod: 0 })
    try {
      await publisher.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now() - 1000, seq: 7, metrics: { drain_time_s: 42 } }), { qos: 1 })
      await publisher.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now() - 1000, metrics: { drain_time_s: -5 } }), { qos: 1 })
    } finally {
      await publisher.endAsync()
    }
    await vi.waitFor(async () => {
      const rows = await t.gateway.database.query<{ seq: number }>(sql`select seq from readings where device_id = ${device.id}`)
      expect(rows.map((r) => Number(r.seq))).toEqual([7])
      expect((await t.api('GET', `/rejections?deviceId=${device.id}`)).body.map((r: any) => r.reason)).toEqual(['out_of_range'])
    })
  })
})

describe('ingest from an external broker, many messages at once (Mosquitto on 1883)', () => {
  const WINDOW = 5
  let t: TestGateway
  let device: { id: string; secret: string }
  beforeAll(async () => {
    const topic = `$share/precall-window-${process.pid}/devices/+/+`
    t = await startTestGateway('postgres', { MQTT_URL: 'mqtt://127.0.0.1:1883', MQTT_RECEIVE_MAXIMUM: String(WINDOW) }, { mqttTopic: topic })
    ;[device] = await registerFleet(t, 1, `win${process.pid}`)
  })
  afterAll(async () => t?.close())

  /** Group commits so far: how many, and how many held at most WINDOW readings. */
  async function batches() {
    const text = (await t.gateway.http.inject({ url: '/metrics' })).body
    const count = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0)
    return { all: count(/^precall_ingest_batch_size_count (\d+)/m), withinWindow: count(/^precall_ingest_batch_size_bucket\{le="5"\} (\d+)/m) }
  }

  // Stock MQTT.js hands the subscriber its next message only once the last one's callback ran,
  // after its commit: one group commit a message (patches/mqtt+5.16.0.patch lifts that).
  it.each([1, 0] as const)('stores QoS %i messages in shared commits, in order, never more than MQTT_RECEIVE_MAXIMUM at once', async (qos) => {
    expect(WINDOW).toBe(5) // the histogram's bucket the test reads
    const n = 100
    const first = qos === 1 ? 1 : 1001
    const before = await batches()
    const publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${device.id}-pub${qos}`, reconnectPeriod: 0 })
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => publisher.publishAsync(
        `devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now() - 1000, seq: first + i, metrics: { drain_time_s: 42 } }), { qos })))
    } finally {
      await publisher.endAsync()
    }
    const stored = async () => (await t.gateway.database.query<{ seq: number }>(
      sql`select seq from readings where device_id = ${device.id} and seq >= ${first} order by id`)).map((r) => Number(r.seq))
    await vi.waitFor(async () => expect(await stored()).toHaveLength(n), { timeout: 10_000, interval: 50 })
    expect(await stored()).toEqual(Array.from({ length: n }, (_, i) => first + i))
    const after = await batches()
    const commits = after.all - before.all
    expect(commits).toBeLessThanOrEqual(n / 2)
    expect(after.withinWindow - before.withinWindow).toBe(commits)
    // As of the last commit, which took the last of them.
    expect((await t.gateway.http.inject({ url: '/metrics' })).body).toMatch(/^precall_ingest_queued 0$/m)
  })
})
