import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startMosquitto } from '../support/mosquitto.js'
import { registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

describe('behind an external broker that goes away (a private Mosquitto)', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined
  let t: TestGateway
  beforeAll(async () => {
    broker = await startMosquitto()
    t = await startTestGateway('postgres', { MQTT_URL: broker.url })
  })
  afterAll(async () => {
    await t?.close()
    await broker?.stop()
  })

  const readiness = async () => {
    const res = await t.gateway.http.inject({ url: '/readyz' })
    return { code: res.statusCode, status: res.json().status }
  }

  it('is not ready while the broker is gone, and stores readings again once it is back', async () => {
    const [device] = await registerFleet(t, 1, `out${process.pid}`)
    expect(await readiness()).toEqual({ code: 200, status: 'ready' })
    const port = broker!.port
    await broker!.stop()
    broker = undefined
    await vi.waitFor(async () => expect(await readiness()).toEqual({ code: 503, status: 'broker unavailable' }), { timeout: 5_000, interval: 50 })

    broker = await startMosquitto({ port })
    await vi.waitFor(async () => expect(await readiness()).toEqual({ code: 200, status: 'ready' }), { timeout: 10_000, interval: 100 })
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `${device.id}-pub`, reconnectPeriod: 0 })
    try {
      // This Mosquitto keeps no sessions across its restart: the gateway subscribes again.
      await vi.waitFor(async () => {
        await publisher.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now() - 1000, seq: 1, metrics: { drain_time_s: 42 } }), { qos: 1 })
        const rows = await t.gateway.database.query<{ seq: number }>(sql`select seq from readings where device_id = ${device.id}`)
        expect(rows.map((r) => Number(r.seq))).toEqual([1])
      }, { timeout: 10_000, interval: 200 })
    } finally {
      await publisher.endAsync()
    }
  })
})
