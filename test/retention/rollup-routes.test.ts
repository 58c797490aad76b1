import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, createTestDatabaseUrl } from '../support/databases.js'
import { expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

describe.each(BACKENDS)('hourly rollups through the gateway on %s', (backend) => {
  let t: TestGateway
  let device: { id: string; secret: string }
  const hour = Date.parse('2026-12-06T08:00:00Z')
  const clock = hour + 3 * 3_600_000

  beforeAll(async () => {
    t = await startTestGateway(backend, {}, { now: () => clock })
    ;[device] = await registerFleet(t, 1, 'ru')
    const client = await t.connectDevice(device.id, device.secret)
    const drains = [[5, 40], [20, 60], [50, 80], [70, 30]] // minutes after 08:00, drain time
    for (const [i, [minute, drain]] of drains.entries()) {
      await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: hour + minute * 60_000, seq: i + 1, metrics: { drain_time_s: drain } }), { qos: 1 })
    }
    await t.gateway.settle()
    // Counted as they committed; written by the retention pass (two device-metric-hours).
    expect((await t.gateway.retention.runOnce()).rollupsWritten).toBe(2)
  })
  afterAll(async () => t?.close())

  it('answers a device\'s hours with count, min, max, mean and standard deviation', async () => {
    const res = expectStatus(await t.api('GET', `/devices/${device.id}/rollups?metric=drain_time_s&from=2026-12-06`), 200)
    expect(res.body).toEqual({
      deviceId: device.id, from: '2026-12-06T00:00:00.000Z', to: new Date(clock).toISOString(),
      hours: [
        { metric: 'drain_time_s', hour: '2026-12-06T08:00:00.000Z', count: 3, min: 40, max: 80, mean: 60, stddev: expect.closeTo(Math.sqrt(800 / 3), 9) },
        { metric: 'drain_time_s', hour: '2026-12-06T09:00:00.000Z', count: 1, min: 30, max: 30, mean: 30, stddev: 0 },
      ],
    })
    // By default the last seven days up to now, every metric.
    expect(expectStatus(await t.api('GET', `/devices/${device.id}/rollups`), 200).body.hours).toHaveLength(2)
    expect(expectStatus(await t.api('GET', `/devices/${device.id}/rollups?from=2026-12-06T09:00:00Z`), 200).body.hours).toHaveLength(1)
  })

  it('refuses an unknown device, an empty period and a bad limit with a reason', async () => {
    expect(expectStatus(await t.api('GET', '/devices/nope/rollups'), 404).body.message).toMatch(/device nope is not registered/)
    expect(expectStatus(await t.api('GET', `/devices/${device.id}/rollups?from=2026-12-07&to=2026-12-06`), 400).body.message).toMatch(/must be before/)
    expect(expectStatus(await t.api('GET', `/devices/${device.id}/rollups?limit=0`), 400).body.message).toMatch(/limit/)
  })
})

describe('hourly rollups at shutdown', () => {
  it('writes what the gateway counted since its last pass when it closes', async () => {
    const { url, drop } = await createTestDatabaseUrl()
    try {
      const t = await startTestGateway('postgres', { DATABASE_URL: url, RETENTION_POLL_MS: '3600000' })
      const [device] = await registerFleet(t, 1, 'sd')
      const client = await t.connectDevice(device.id, device.secret)
      for (const seq of [1, 2, 3]) {
        await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now() - seq * 1000, seq, metrics: { drain_time_s: 10 * seq } }), { qos: 1 })
      }
      await t.gateway.settle()
      await t.close()
      const admin = postgres(url, { max: 1, onnotice: () => {} })
      const rows = await admin`select count::int, sum::int from reading_rollups where device_id = ${device.id}`
      await admin.end()
      expect(rows.reduce((n, r) => n + r.count, 0)).toBe(3)
      expect(rows.reduce((n, r) => n + r.sum, 0)).toBe(60)
    } finally {
      await drop()
    }
  })
})
