import { afterAll, describe, expect, it, vi } from 'vitest'
import type { MqttClient } from 'mqtt'
import { createTestDatabaseUrl } from '../support/databases.js'
import { DRAIN_RULE, WASHER, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const MINUTE = 60_000
const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function gatewayWith(env: Record<string, string> = {}, now?: () => number) {
  const t = await startTestGateway('postgres', env, now ? { now } : {})
  cleanup.push(() => t.close())
  return t
}
const publisher = (t: TestGateway, client: MqttClient, id: string) => async (ts: number, metrics: Record<string, number>, seq?: number) => {
  await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts, ...(seq !== undefined ? { seq } : {}), metrics }), { qos: 1 })
}

describe('rule runner', () => {
  it('detects once, at the right event time, when restarted in the middle of a `for` window', async () => {
    const db = await createTestDatabaseUrl()
    cleanup.push(db.drop)
    const t0 = Date.now() - 2 * 3_600_000
    let t = await gatewayWith({ DATABASE_URL: db.url })
    const [device] = await registerFleet(t)
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    let publish = publisher(t, await t.connectDevice(device.id, device.secret), device.id)
    for (let m = 0; m <= 5; m++) await publish(t0 + m * MINUTE, { drain_time_s: 150 }, m)
    await t.gateway.settle()
    await t.close()

    t = await gatewayWith({ DATABASE_URL: db.url })
    publish = publisher(t, await t.connectDevice(device.id, device.secret), device.id)
    for (let m = 6; m <= 12; m++) await publish(t0 + m * MINUTE, { drain_time_s: 150 }, m)
    await t.gateway.settle()
    await t.close()

    t = await gatewayWith({ DATABASE_URL: db.url })
    await t.gateway.settle()
    const detections = (await t.api('GET', `/detections?ruleId=${DRAIN_RULE.id}`)).body
    expect(detections.map((d: any) => d.detectedAt)).toEqual([new Date(t0 + 10 * MINUTE).toISOString()])
    expect((await t.api('GET', `/tickets?deviceId=${device.id}`)).body[0].occurrences).toBe(1)
  })

  it('places a bare status word at the device\'s own event time, so back-dated readings are not late', async () => {
    const t = await gatewayWith()
    const [device] = await registerFleet(t, 1, 'bare')
    expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201)
    const client = await t.connectDevice(device.id, device.secret)
    const t0 = Date.now() - 6 * 3_600_000
    const online = () => client.publishAsync(`devices/${device.id}/status`, 'online', { qos: 1 })
    await online() // at connect, before the engine knows the device's time
    for (let m = 0; m <= 10; m++) {
      await publisher(t, client, device.id)(t0 + m * MINUTE, { drain_time_s: 150 }, m)
      if (m === 5) await online()
    }
    await t.gateway.settle()
    expect((await t.api('GET', `/detections?deviceId=${device.id}`)).body.map((d: any) => d.detectedAt)).toEqual([new Date(t0 + 10 * MINUTE).toISOString()])
    expect((await t.gateway.http.inject({ url: '/metrics' })).body).not.toMatch(/precall_readings_late_total [1-9]/)
  })

  it('swaps rule versions under load without skipping a reading or evaluating one twice', async () => {
    const t = await gatewayWith()
    const fleet = await registerFleet(t, 4, 'hot')
    const count = (n: number) => ({ ...DRAIN_RULE, when: { kind: 'aggregate', metric: 'drain_time_s', fn: 'count', over: '1h', op: '>=', value: n } })
    expectStatus(await t.api('POST', '/rules', count(1_000_000)), 201)
    const t0 = Date.now() - 3_600_000 / 2
    const N = 240
    let swapped = false
    await Promise.all(fleet.map(async (d) => {
      const publish = publisher(t, await t.connectDevice(d.id, d.secret), d.id)
      for (let i = 0; i < N; i++) {
        await publish(t0 + i * 1000, { drain_time_s: 50 }, i)
        if (i === N / 2 && !swapped) {
          swapped = true
          // The new version must count every reading: those before the swap from the store, the rest live.
          void t.api('POST', '/rules', count(N))
        }
      }
    }))
    await vi.waitFor(async () => expect((await t.api('GET', `/rules/${DRAIN_RULE.id}`)).body.activeVersion).toBe(2))
    await t.gateway.settle()
    const detections = (await t.api('GET', `/detections?ruleId=${DRAIN_RULE.id}&ruleVersion=2`)).body
    expect(detections.map((d: any) => [d.deviceId, d.detectedAt]).sort()).toEqual(fleet.map((d) => [d.id, new Date(t0 + (N - 1) * 1000).toISOString()]).sort())
    expect((await t.gateway.http.inject({ url: '/metrics' })).body).not.toMatch(/precall_readings_late_total [1-9]/)
  })

  it('resolves an undispatched ticket by itself when the clear condition has held, but not a dispatched one', async () => {
    const t = await gatewayWith()
    const fleet = await registerFleet(t, 2, 'clr')
    const rule = { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120, clear: { op: '<=', value: 100, for: '5m' } } }
    expectStatus(await t.api('POST', '/rules', rule), 201)
    const t0 = Date.now() - 3_600_000
    const [waiting, dispatched] = await Promise.all(fleet.map(async (d) => publisher(t, await t.connectDevice(d.id, d.secret), d.id)))
    await waiting(t0, { drain_time_s: 150 })
    await dispatched(t0, { drain_time_s: 150 })
    await t.gateway.settle()
    const [onTheWay] = (await t.api('GET', `/tickets?deviceId=${fleet[1].id}`)).body
    expectStatus(await t.api('PATCH', `/tickets/${onTheWay.id}`, { status: 'dispatched', technician: 'Li' }), 200)
    for (const m of [1, 3, 6]) {
      await waiting(t0 + m * MINUTE, { drain_time_s: 90 })
      await dispatched(t0 + m * MINUTE, { drain_time_s: 90 })
    }
    await t.gateway.settle()
    const [cleared] = (await t.api('GET', `/tickets?deviceId=${fleet[0].id}`)).body
    expect(cleared).toMatchObject({ status: 'resolved', outcome: 'self_cleared' })
    expect((await t.api('GET', `/tickets/${cleared.id}`)).body.history.at(-1)).toMatchObject({ action: 'self_cleared', changes: { clearedAt: new Date(t0 + 6 * MINUTE).toISOString() } })
    expect((await t.api('GET', `/tickets?deviceId=${fleet[1].id}`)).body[0].status).toBe('dispatched')
  })

  it('restarts a device\'s rule state after a repair and after a maintenance event', async () => {
    const t = await gatewayWith()
    const [repaired, serviced] = await registerFleet(t, 2, 'fix')
    expectStatus(await t.api('POST', '/device-types', { ...WASHER, eventCodes: ['E21', 'maintenance'], maintenanceCodes: ['maintenance'] }), 201)
    const rule = { ...DRAIN_RULE, when: { kind: 'count', codes: ['E21'], atLeast: 3, within: '1h' } }
    expectStatus(await t.api('POST', '/rules', rule), 201)
    const t0 = Date.now() - 3_600_000
    const events = async (d: { id: string; secret: string }) => {
      const client = await t.connectDevice(d.id, d.secret)
      return async (m: number, code = 'E21') => {
        await client.publishAsync(`devices/${d.id}/events`, JSON.stringify({ ts: t0 + m * MINUTE, seq: m, code }), { qos: 1 })
        await t.gateway.settle()
      }
    }
    const [a, b] = [await events(repaired), await events(serviced)]
    for (const m of [0, 1, 2]) { await a(m); await b(m) }
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${repaired.id}`)).body
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'resolved', outcome: 'fixed' }), 200)
    await b(3, 'maintenance')
    // Without the restart the window would still hold 3+ codes and never rise again.
    for (const m of [4, 5, 6]) { await a(m); await b(m) }
    const at = (id: string) => t.api('GET', `/detections?deviceId=${id}`).then((r) => r.body.map((d: any) => d.detectedAt).sort())
    expect(await at(repaired.id)).toEqual([2, 6].map((m) => new Date(t0 + m * MINUTE).toISOString()))
    expect(await at(serviced.id)).toEqual([2, 6].map((m) => new Date(t0 + m * MINUTE).toISOString()))
  })

  it('keeps a repair\'s reset across a restart: rebuilt state learns from after the repair again', async () => {
    const db = await createTestDatabaseUrl()
    cleanup.push(db.drop)
    let t = await gatewayWith({ DATABASE_URL: db.url })
    const [device] = await registerFleet(t, 1, 'durable')
    expectStatus(await t.api('POST', '/device-types', { ...WASHER, eventCodes: ['E21'] }), 201)
    expectStatus(await t.api('POST', '/rules', { ...DRAIN_RULE, when: { kind: 'count', codes: ['E21'], atLeast: 3, within: '1h' } }), 201)
    const t0 = Date.now() - 3_600_000
    const send = async (gw: TestGateway, minutes: number[]) => {
      const client = await gw.connectDevice(device.id, device.secret, { clientId: `${device.id}-${minutes[0]}` })
      for (const m of minutes) await client.publishAsync(`devices/${device.id}/events`, JSON.stringify({ ts: t0 + m * MINUTE, seq: m, code: 'E21' }), { qos: 1 })
      await gw.gateway.settle()
    }
    await send(t, [0, 1, 2])
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${device.id}`)).body
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'resolved', outcome: 'replaced' }), 200)
    await t.close()

    t = await gatewayWith({ DATABASE_URL: db.url })
    await send(t, [3, 4, 5])
    const detections = (await t.api('GET', `/detections?deviceId=${device.id}`)).body.map((d: any) => d.detectedAt).sort()
    expect(detections).toEqual([2, 5].map((m) => new Date(t0 + m * MINUTE).toISOString()))
  })

  it('reports silence on the live clock, but not for an appliance that was switched off', async () => {
    let clock = Date.now()
    const t = await gatewayWith({ RULES_CLOCK_SLACK_MS: '0', RULES_CLOCK_TICK_MS: '20' }, () => clock)
    const [silent, off] = await registerFleet(t, 2, 'abs')
    const rule = { ...DRAIN_RULE, problem: undefined, ticket: { problem: 'offline', title: 'Appliance offline' }, when: { kind: 'absence', for: '30m', ignoreWhenPoweredOff: true } }
    expectStatus(await t.api('POST', '/rules', rule), 201)
    for (const d of [silent, off]) {
      const client = await t.connectDevice(d.id, d.secret)
      await publisher(t, client, d.id)(clock, { drain_time_s: 40 })
      if (d === off) await client.publishAsync(`devices/${d.id}/status`, JSON.stringify({ status: 'powered_off', ts: clock + 1000 }), { qos: 1 })
    }
    await t.gateway.settle()
    clock += 29 * MINUTE
    await new Promise((r) => setTimeout(r, 100))
    expect((await t.api('GET', '/detections?ruleId=washer-drain-slow')).body).toHaveLength(0)
    clock += 2 * MINUTE
    await vi.waitFor(async () => expect((await t.api('GET', '/detections')).body.map((d: any) => d.deviceId)).toEqual([silent.id]))
    await t.gateway.settle()
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${silent.id}`)).body
    expect(ticket).toMatchObject({ problem: 'offline', evidence: { kind: 'absence' } })
  })
})
