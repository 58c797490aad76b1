import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTestDatabaseUrl } from '../support/databases.js'
import { BROKER_PLACEMENTS, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

// A trigger makes PostgreSQL refuse one device's readings until it is dropped: the store fails
// the way it does when the database is away, for that device only.
async function failStoresOf(t: TestGateway, deviceId: string) {
  await t.gateway.database.query(sql.raw(`
    create or replace function refuse_reading() returns trigger language plpgsql as $$
      begin raise exception 'store refused for the test'; end $$`))
  await t.gateway.database.query(sql.raw(`
    create trigger refuse_reading before insert on readings for each row
      when (new.device_id = '${deviceId}') execute function refuse_reading()`))
  return () => t.gateway.database.query(sql.raw('drop trigger refuse_reading on readings'))
}

/** A logger for a gateway whose lines the test reads. */
function logLines() {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _, done) { lines.push(JSON.parse(String(chunk))); done() } }))
  return { log, lines }
}

const storedSeqs = async (t: TestGateway, deviceId: string) =>
  (await t.gateway.database.query<{ seq: number }>(sql`select seq from readings where device_id = ${deviceId} order by seq`)).map((r) => Number(r.seq))

const reading = (seq: number) => JSON.stringify({ ts: Date.now() - 1000, seq, metrics: { drain_time_s: 42 } })

describe('a reading that could not be stored is not acknowledged, and comes again', () => {
  it.each(BROKER_PLACEMENTS)('over the embedded broker %s: the device is dropped and sends it again when it reconnects', async (_, placement) => {
    const t = await startTestGateway('postgres', placement)
    try {
      const [device] = await registerFleet(t, 1, `sfe${process.pid}`)
      const restore = await failStoresOf(t, device.id)
      const client = await t.connectDevice(device.id, device.secret, { reconnectPeriod: 200, clean: false })
      const acked = client.publishAsync(`devices/${device.id}/telemetry`, reading(1), { qos: 1 })
      await new Promise<void>((resolve) => client.once('close', () => resolve()))
      expect(await storedSeqs(t, device.id)).toEqual([])
      expect((await t.gateway.http.inject({ url: '/metrics' })).body).toMatch(/^precall_readings_store_failed_total 1$/m)
      await restore()
      await acked
      expect(await storedSeqs(t, device.id)).toEqual([1])
    } finally {
      await t.close()
    }
  })

  describe('behind an external broker (Mosquitto on 1883)', () => {
    let t: TestGateway
    let device: { id: string; secret: string }
    beforeAll(async () => {
      t = await startTestGateway('postgres', { MQTT_URL: 'mqtt://127.0.0.1:1883' }, { mqttTopic: `$share/precall-fail-${process.pid}/devices/+/+` })
      ;[device] = await registerFleet(t, 1, `sfx${process.pid}`)
    })
    afterAll(async () => t?.close())

    it('the subscriber reconnects, the broker sends it again, and the readings after it are stored too', async () => {
      const restore = await failStoresOf(t, device.id)
      const publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${device.id}-pub`, reconnectPeriod: 0 })
      try {
        await publisher.publishAsync(`devices/${device.id}/telemetry`, reading(1), { qos: 1 })
        await vi.waitFor(async () => {
          const text = (await t.gateway.http.inject({ url: '/metrics' })).body
          expect(text).toMatch(/^precall_readings_store_failed_total [1-9]/m)
        })
        expect(await storedSeqs(t, device.id)).toEqual([])
        await restore()
        await publisher.publishAsync(`devices/${device.id}/telemetry`, reading(2), { qos: 1 })
        await vi.waitFor(async () => expect(await storedSeqs(t, device.id)).toEqual([1, 2]), { timeout: 10_000, interval: 100 })
      } finally {
        await publisher.endAsync()
      }
    })
  })
})

describe('behind an external broker (Mosquitto on 1883), the gateway\'s session outlives it', () => {
  it('stores what devices published while it was down once it is back under the same MQTT_CLIENT_ID', async () => {
    const db = await createTestDatabaseUrl()
    const env = {
      MQTT_URL: 'mqtt://127.0.0.1:1883', DATABASE_URL: db.url, MQTT_CLIENT_ID: `precall-restart-${process.pid}`, MQTT_SESSION_EXPIRY_S: '60',
    }
    const options = { mqttTopic: `$share/precall-restart-${process.pid}/devices/+/+` }
    let t = await startTestGateway('postgres', env, options)
    try {
      const [device] = await registerFleet(t, 1, `rst${process.pid}`)
      await t.close()
      const publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${device.id}-pub`, reconnectPeriod: 0 })
      try {
        for (const seq of [1, 2, 3]) await publisher.publishAsync(`devices/${device.id}/telemetry`, reading(seq), { qos: 1 })
      } finally {
        await publisher.endAsync()
      }
      const logged = logLines()
      t = await startTestGateway('postgres', env, { ...options, log: logged.log })
      await vi.waitFor(async () => expect(await storedSeqs(t, device.id)).toEqual([1, 2, 3]), { timeout: 10_000, interval: 100 })
      expect(logged.lines.find((l) => l.msg === 'connected to external broker')).toMatchObject({ sessionPresent: true })
    } finally {
      await t.close()
      // The broker forgets the session now rather than in a minute.
      const forget = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: env.MQTT_CLIENT_ID, clean: true, protocolVersion: 5, reconnectPeriod: 0 })
      await forget.endAsync()
      await db.drop()
    }
  })

  it('under a generated client id, ends its session when it shuts down: nobody could resume it', async () => {
    const logged = logLines()
    const t = await startTestGateway('postgres', { MQTT_URL: 'mqtt://127.0.0.1:1883' }, { mqttTopic: `$share/precall-gen-${process.pid}/devices/+/+`, log: logged.log })
    const subscribed = logged.lines.find((l) => l.msg === 'subscribed to external broker')
    expect(subscribed).toMatchObject({ clientId: expect.stringMatching(/^precall-/), sessionExpirySeconds: 60 })
    await t.close()
    const probe = mqtt.connect('mqtt://127.0.0.1:1883', { clientId: subscribed!.clientId as string, clean: false, protocolVersion: 5, reconnectPeriod: 0 })
    try {
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { probe.once('connect', resolve); probe.once('error', reject) })
      expect(connack.sessionPresent).toBe(false)
    } finally {
      await probe.endAsync()
    }
  })
})
