import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const ACTIVE = { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } }
const CANDIDATE = { ...ACTIVE, mode: 'shadow', when: { ...ACTIVE.when, value: 100 } }

describe('rule versions, shadow mode, activation and rollback', () => {
  let t: TestGateway
  let device: { id: string; secret: string }
  let client: MqttClient
  let ts = Date.now() - 3_600_000
  const publish = async (drain: number) => {
    ts += 60_000
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, metrics: { drain_time_s: drain } }), { qos: 1 })
    await t.gateway.settle()
  }

  beforeAll(async () => {
    t = await startTestGateway('postgres')
    ;[device] = await registerFleet(t)
    client = await t.connectDevice(device.id, device.secret)
  })
  afterAll(async () => t?.close())

  it('runs a shadow version beside the active one: it records detections and opens nothing', async () => {
    expect(expectStatus(await t.api('POST', '/rules', ACTIVE), 201).body).toMatchObject({ version: 1, activeVersion: 1, shadowVersion: null })
    expect(expectStatus(await t.api('POST', '/rules', CANDIDATE), 201).body).toMatchObject({ version: 2, activeVersion: 1, shadowVersion: 2 })

    await publish(110)
    expect((await t.api('GET', `/tickets?deviceId=${device.id}`)).body).toHaveLength(0)
    const shadow = (await t.api('GET', `/detections?ruleId=${ACTIVE.id}&mode=shadow`)).body
    expect(shadow).toHaveLength(1)
    expect(shadow[0]).toMatchObject({ ruleVersion: 2, deviceId: device.id, ticketId: null, evidence: { value: 110, limit: 100 } })

    await publish(50)
    await publish(130)
    const tickets = (await t.api('GET', `/tickets?deviceId=${device.id}`)).body
    expect(tickets).toHaveLength(1)
    expect(tickets[0]).toMatchObject({ ruleVersion: 1, occurrences: 1 })

    const compare = (await t.api('GET', `/rules/${ACTIVE.id}/compare`)).body
    expect(compare.versions).toEqual([
      { version: 1, mode: 'active', detections: 1, devices: 1, tickets: 1, devicesOnlyThisVersion: 0 },
      { version: 2, mode: 'shadow', detections: 2, devices: 1, tickets: 0, devicesOnlyThisVersion: 0 },
    ])
    const diff = (await t.api('GET', `/rules/${ACTIVE.id}/diff?from=1&to=2`)).body
    expect(diff.changes).toEqual([{ path: 'mode', from: 'active', to: 'shadow' }, { path: 'when.value', from: 120, to: 100 }])
  })

  it('promotes the shadow version, rolls back, and refuses a rollback with nothing before', async () => {
    const promoted = expectStatus(await t.api('POST', `/rules/${ACTIVE.id}/activate`, { version: 2 }), 200).body
    expect(promoted).toMatchObject({ activeVersion: 2, shadowVersion: null, previousVersion: 1 })
    await publish(50)
    await publish(110) // above 100: the promoted version now opens tickets
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${device.id}`)).body
    expect(ticket).toMatchObject({ occurrences: 2, ruleVersion: 2 })

    const back = expectStatus(await t.api('POST', `/rules/${ACTIVE.id}/rollback`), 200).body
    expect(back).toMatchObject({ activeVersion: 1, previousVersion: 2 })
    await publish(50)
    await publish(110) // below 120 again: nothing more
    expect((await t.api('GET', `/tickets?deviceId=${device.id}`)).body[0].occurrences).toBe(2)

    expect((await t.api('POST', `/rules/${ACTIVE.id}/activate`, { version: 9 })).status).toBe(404)
    expectStatus(await t.api('POST', '/rules', { ...ACTIVE, id: 'fresh-rule' }), 201)
    expect((await t.api('POST', '/rules/fresh-rule/rollback')).body.code).toBe('PRECALL_ERR_CONFLICT')
  })
})
