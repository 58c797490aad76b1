import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import mqtt from 'mqtt'
import { BROKER_PLACEMENTS, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const closed = (client: mqtt.MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()))

describe.each(BROKER_PLACEMENTS)('with the broker %s, ingest refuses bad input, counts it, and keeps serving good devices', (_, placement) => {
  let t: TestGateway
  let good: { id: string; secret: string }
  let bad: { id: string; secret: string }
  let goodClient: mqtt.MqttClient
  let goodSeq = 0
  const now = Date.now()

  const publishGood = async () => {
    const seq = goodSeq++
    await goodClient.publishAsync(`devices/${good.id}/telemetry`, JSON.stringify({ ts: now + seq, seq, metrics: { drain_time_s: 50 } }), { qos: 1 })
  }

  beforeAll(async () => {
    t = await startTestGateway('postgres', { MQTT_MAX_PACKET_BYTES: '1024', ...placement })
    ;[good, bad] = await registerFleet(t, 2)
    goodClient = await t.connectDevice(good.id, good.secret)
  })
  afterAll(async () => t?.close())

  it('refuses a wrong secret and an unknown device at CONNECT', async () => {
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'x1', username: bad.id, password: 'not-the-secret', reconnectPeriod: 0 }))
      .rejects.toThrow(/Bad username or password/)
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'x2', username: 'no-such-device', password: 'x', reconnectPeriod: 0 }))
      .rejects.toThrow(/Bad username or password/)
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'x3', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/)
    expect(await t.metric('precall_mqtt_refused_total', 'reason="bad_credentials"')).toBe(2)
    expect(await t.metric('precall_mqtt_refused_total', 'reason="missing_credentials"')).toBe(1)
    await publishGood()
  })

  it('refuses an empty client id', async () => {
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: '', clean: true, username: bad.id, password: bad.secret, reconnectPeriod: 0 }))
      .rejects.toThrow(/Identifier rejected/)
    expect(await t.metric('precall_mqtt_refused_total', 'reason="empty_client_id"')).toBe(1)
  })

  it('disconnects a device that publishes under another device id or $SYS, after its own topic too', async () => {
    for (const topic of [`devices/${good.id}/telemetry`, '$SYS/broker/x']) {
      const intruder = await t.connectDevice(bad.id, bad.secret, { clientId: `intruder-${topic.length}` })
      // First on its own topic, which the broker then remembers for the connection.
      await intruder.publishAsync(`devices/${bad.id}/telemetry`, JSON.stringify({ ts: now, metrics: { drain_time_s: 50 } }), { qos: 1 })
      const gone = closed(intruder)
      intruder.publish(topic, JSON.stringify({ ts: now, metrics: { drain_time_s: 999 } }), { qos: 1 })
      await gone
    }
    expect(await t.metric('precall_mqtt_refused_total', 'reason="acl_publish"')).toBe(2)
    await publishGood()
    await t.gateway.settle()
    const readings = (await t.api('GET', `/tickets?deviceId=${good.id}`)).body
    expect(readings).toHaveLength(0)
  })

  it('refuses subscriptions outside the device\'s own commands', async () => {
    const client = await t.connectDevice(bad.id, bad.secret, { clientId: 'subscriber' })
    const granted = await client.subscribeAsync(`devices/${bad.id}/commands/#`)
    expect(granted.map((g) => g.qos)).toEqual([0])
    for (const topic of [`devices/${good.id}/commands/#`, 'devices/+/telemetry', '$SYS/#']) {
      await expect(client.subscribeAsync(topic)).rejects.toThrow(/Subscribe error/)
    }
    expect(await t.metric('precall_mqtt_refused_total', 'reason="acl_subscribe"')).toBe(3)
  })

  it('routes what a device publishes to no one, not even to its own commands subscription', async () => {
    const client = await t.connectDevice(bad.id, bad.secret, { clientId: 'echo' })
    await client.subscribeAsync(`devices/${bad.id}/commands/#`, { qos: 1 })
    const received: string[] = []
    client.on('message', (topic) => received.push(topic))
    // `devices/<id>/commands` matches `commands/#`; ingest refuses it, the broker acknowledges it.
    await client.publishAsync(`devices/${bad.id}/commands`, 'reboot', { qos: 1 })
    await client.publishAsync(`devices/${bad.id}/commands`, 'reboot', { qos: 0, retain: true })
    await t.gateway.settle()
    await client.publishAsync(`devices/${bad.id}/commands`, 'reboot', { qos: 1 })
    await new Promise((r) => setTimeout(r, 200))
    expect(received).toEqual([])
    expect(await t.metric('precall_readings_rejected_total', 'reason="unknown_topic"')).toBe(3)
    // A fresh subscription gets no retained copy either.
    const late = await t.connectDevice(bad.id, bad.secret, { clientId: 'echo-late' })
    late.on('message', (topic) => received.push(topic))
    await late.subscribeAsync(`devices/${bad.id}/commands/#`, { qos: 1 })
    await new Promise((r) => setTimeout(r, 200))
    expect(received).toEqual([])
    await Promise.all([client.endAsync(), late.endAsync()])
  })

  it('drops the connection of an oversized packet before reading its body', async () => {
    const client = await t.connectDevice(bad.id, bad.secret, { clientId: 'big' })
    const gone = closed(client)
    client.publish(`devices/${bad.id}/telemetry`, 'x'.repeat(4096), { qos: 1 })
    await gone
    expect(await t.metric('precall_mqtt_refused_total', 'reason="oversized_packet"')).toBe(1)
    await publishGood()
  })

  it.each([
    ['not_json', '{"ts": 1, "metrics": {'],
    ['invalid_payload', JSON.stringify({ metrics: { drain_time_s: 10 } })],
    ['unknown_metric', JSON.stringify({ ts: now, metrics: { drian_time_s: 10 } })],
    ['wrong_type', JSON.stringify({ ts: now, metrics: { drain_time_s: '10' } })],
    ['out_of_range', JSON.stringify({ ts: now, metrics: { drain_time_s: 99_999 } })],
    ['future_timestamp', JSON.stringify({ ts: now + 86_400_000, metrics: { drain_time_s: 10 } })],
    ['past_retention', JSON.stringify({ ts: now - 31 * 86_400_000, metrics: { drain_time_s: 10 } })],
  ])('acknowledges but refuses a %s payload, keeps it with its reason', async (reason, payload) => {
    const client = await t.connectDevice(bad.id, bad.secret, { clientId: `bad-${reason}` })
    await client.publishAsync(`devices/${bad.id}/telemetry`, payload, { qos: 1 })
    await publishGood()
    await t.gateway.settle()
    expect(await t.metric('precall_readings_rejected_total', `reason="${reason}"`)).toBe(1)
    await vi.waitFor(async () => {
      const [kept] = (await t.api('GET', `/rejections?deviceId=${bad.id}&reason=${reason}`)).body
      expect(kept).toMatchObject({ topic: `devices/${bad.id}/telemetry`, payload })
      expect(kept.detail.length).toBeGreaterThan(10)
    })
    expect(client.connected).toBe(true)
  })

  it('stored every acknowledged reading of the well-behaved device', async () => {
    await t.gateway.settle()
    const stored = await t.gateway.database.query<{ n: number }>(
      (await import('drizzle-orm')).sql`select count(*)::int as n from readings where device_id = ${good.id}`)
    expect(stored[0].n).toBe(goodSeq)
    expect(goodSeq).toBeGreaterThanOrEqual(9)
  })
})
