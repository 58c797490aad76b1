import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mapBounded } from '../../device-sim/map-bounded.js'
import { runLoad } from '../../device-sim/load-generator.js'
import { startSimGateway, type SimGateway } from './sim-harness.js'

describe('load generator', () => {
  let g: SimGateway
  let devices: { id: string; secret: string }[]
  beforeAll(async () => {
    g = await startSimGateway([])
    devices = await mapBounded(Array.from({ length: 60 }, (_, i) => `load-${i}`), 16, (id) => g.api.registerDevice({ id, typeId: 'washer' }))
  }, 60_000)
  afterAll(async () => {
    await g?.close()
  })

  it('offers a target rate over many connections and measures publish→PUBACK latency', async () => {
    const seconds: number[] = []
    const r = await runLoad({ url: g.t.mqttUrl, devices, seconds: 2, qos: 1, ratePerSecond: 300, onSecond: (s) => seconds.push(s.second) })
    expect(r).toMatchObject({ devices: 60, qos: 1, failed: 0, targetPerSecond: 300 })
    expect(r.offeredPerSecond).toBeGreaterThan(250)
    expect(r.offeredPerSecond).toBeLessThan(350)
    expect(r.acked + r.drained).toBe(r.sent)
    expect(r.perSecond).toBeGreaterThan(200)
    expect(r.p50Ms).toBeGreaterThan(0)
    expect(r.p50Ms).toBeLessThanOrEqual(r.p90Ms)
    expect(r.p90Ms).toBeLessThanOrEqual(r.p99Ms)
    expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs)
    expect(r.ackedPerSecond.length).toBeGreaterThanOrEqual(2)
    expect(seconds.length).toBeGreaterThanOrEqual(1)
    await g.t.gateway.settle()
    // PUBACK means stored: every acknowledged reading is in the gateway.
    expect(await g.t.metric('precall_readings_accepted_total', 'kind="telemetry"')).toBe(r.sent)
  }, 30_000)

  it('runs closed-loop at QoS 0 with the result shape bench/load.ts had', async () => {
    const r = await runLoad({ url: g.t.mqttUrl, devices: devices.slice(0, 20), seconds: 1, qos: 0, window: 4 })
    for (const key of ['devices', 'qos', 'seconds', 'acked', 'perSecond', 'p50Ms', 'p99Ms']) expect(r).toHaveProperty(key)
    expect(r.qos).toBe(0)
    expect(r.acked).toBeGreaterThan(100)
  }, 30_000)

  it('says why when a device cannot connect, and leaves no connection behind', async () => {
    const connected = () => g.t.metric('precall_mqtt_clients')
    const until = async (want: number) => {
      for (let i = 0; i < 100 && (await connected()) !== want; i++) await new Promise((r) => setTimeout(r, 50))
      return connected()
    }
    expect(await until(0)).toBe(0)
    const fleet = [...devices.slice(0, 3), { id: devices[3].id, secret: 'not-its-secret' }]
    await expect(runLoad({ url: g.t.mqttUrl, devices: fleet, seconds: 1, qos: 1, ratePerSecond: 10 }))
      .rejects.toThrow(/could not connect .*CONNACK return code 4/)
    expect(await until(0)).toBe(0)
  }, 30_000)
})
