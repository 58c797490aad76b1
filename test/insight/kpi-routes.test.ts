import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, expectStatus, registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const DAY = 86_400_000
const INSTANT_RULE = { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } }

describe.each(BACKENDS)('KPI API on %s', (backend) => {
  let t: TestGateway
  let clock = Date.parse('2026-11-02T02:00:00Z')
  let token: Record<'viewer' | 'crm', string>

  beforeAll(async () => {
    t = await startTestGateway(backend, {}, { now: () => clock })
    const [device] = await registerFleet(t, 1)
    expectStatus(await t.api('POST', '/rules', INSTANT_RULE), 201)
    token = {
      viewer: expectStatus(await t.api('POST', '/tokens', { name: 'wallboard', role: 'viewer' }), 201).body.token,
      crm: expectStatus(await t.api('POST', '/tokens', { name: 'crm', role: 'crm' }), 201).body.token,
    }
    // Through the real pipeline: a breach opens a ticket, the customer calls an hour later about
    // it, the CRM acknowledges after 2 h and resolves it fixed after a day.
    const client = await t.connectDevice(device.id, device.secret)
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: clock, seq: 1, metrics: { drain_time_s: 300 } }), { qos: 1 })
    await t.gateway.settle()
    const [ticket] = (await t.api('GET', `/tickets?deviceId=${device.id}`)).body
    clock += 3_600_000
    expectStatus(await t.api('POST', '/contacts', { deviceId: device.id, channel: 'phone', reason: 'slow drain' }), 200)
    clock += 3_600_000
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'acknowledged' }), 200)
    clock += 22 * 3_600_000
    expectStatus(await t.api('PATCH', `/tickets/${ticket.id}`, { status: 'resolved', outcome: 'fixed' }), 200)
    clock += 60_000 // the period is half-open: ops look a minute later
  })
  afterAll(async () => t?.close())

  it('reports the last 30 days by default, with the figures the pipeline produced and their definitions', async () => {
    const k = expectStatus(await t.api('GET', '/kpis', undefined, token.viewer), 200).body
    expect(k.period).toEqual({ from: new Date(clock - 30 * DAY).toISOString(), to: new Date(clock).toISOString() })
    // One ticket, opened by a detection an hour before the customer called: proactive 1/1.
    expect(k.overall.tickets).toMatchObject({ opened: 1, proactive: 1, proactiveRate: 1, repeatRate: 0 })
    expect(k.overall.contacts).toMatchObject({ total: 1, knownProblem: 1, knownProblemShare: 1 })
    // Acknowledged 2 h after opening, resolved 24 h after, within its 5-day SLA; fixed → precision 1.
    expect(k.overall.responseTimes).toMatchObject({ acknowledge: { tickets: 1, meanSeconds: 7200 }, resolve: { tickets: 1, meanSeconds: 86400 } })
    expect(k.overall.sla).toMatchObject({ resolved: 1, met: 1, attainment: 1, byType: { service: { attainment: 1 } } })
    expect(k.ruleVersions).toEqual([expect.objectContaining({ ruleId: 'washer-drain-slow', ruleVersion: 1, precision: expect.objectContaining({ precision: 1 }) })])
    expect(Object.keys(k.definitions)).toEqual(expect.arrayContaining(['tickets.proactiveRate', 'sla.attainment', 'precision.precision']))
  })

  it('groups on request and takes plain dates', async () => {
    const k = expectStatus(await t.api('GET', '/kpis?from=2026-11-01&to=2026-11-04&groupBy=deviceType'), 200).body
    expect(k.period.from).toBe('2026-11-01T00:00:00.000Z')
    expect(k.groups.map((g: any) => [g.key, g.tickets.opened])).toEqual([['washer', 1]])
  })

  it('refuses a backwards period, an unknown grouping and the crm role', async () => {
    expect((await t.api('GET', '/kpis?from=2026-11-04&to=2026-11-01')).body.code).toBe('PRECALL_ERR_VALIDATION')
    expect((await t.api('GET', '/kpis?groupBy=customer')).status).toBe(400)
    expect((await t.api('GET', '/kpis', undefined, token.crm)).body.code).toBe('PRECALL_ERR_FORBIDDEN')
    expect((await t.api('GET', '/customers/c-1/context', undefined, token.crm)).status).toBe(200)
  })

  it('exposes the headline gauges on /metrics', async () => {
    const metrics = (await t.gateway.http.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/precall_kpi_proactive_rate\{window="30d"\} 1/)
    expect(metrics).toMatch(/precall_kpi_sla_attainment\{window="24h"\} 1/)
    expect(metrics).toMatch(/precall_tickets_open\{status="open"\} 0/)
    expect(metrics).toMatch(/precall_kpi_up 1/)
  })
})
