import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS } from '../support/databases.js'
import { DRAIN_RULE, WASHER, expectStatus, startTestGateway, type TestGateway } from '../support/gateway.js'

describe.each(BACKENDS)('HTTP API on %s', (backend) => {
  let t: TestGateway
  beforeAll(async () => {
    t = await startTestGateway(backend)
    expectStatus(await t.api('POST', '/device-types', WASHER), 201)
  })
  afterAll(async () => t?.close())

  it('refuses requests without a valid token', async () => {
    const none = await t.api('GET', '/tickets', undefined, '')
    expect(none).toMatchObject({ status: 401, body: { code: 'PRECALL_ERR_UNAUTHENTICATED' } })
    const wrong = await t.api('GET', '/tickets', undefined, 'pc_not-a-token')
    expect(wrong).toMatchObject({ status: 401, body: { code: 'PRECALL_ERR_UNAUTHENTICATED' } })
  })

  it('lets an admin issue tokens per role, enforces the roles, and revokes', async () => {
    const viewer = expectStatus(await t.api('POST', '/tokens', { name: 'wallboard', role: 'viewer' }), 201).body
    const crm = expectStatus(await t.api('POST', '/tokens', { name: 'crm', role: 'crm' }), 201).body
    expect(viewer.token).toMatch(/^pc_/)

    expect((await t.api('GET', '/tickets', undefined, viewer.token)).status).toBe(200)
    const forbidden = await t.api('POST', '/rules', DRAIN_RULE, viewer.token)
    expect(forbidden).toMatchObject({ status: 403, body: { code: 'PRECALL_ERR_FORBIDDEN' } })
    expect((await t.api('POST', '/tokens', { name: 'x', role: 'admin' }, crm.token)).status).toBe(403)
    expect((await t.api('POST', '/webhooks', { url: 'http://127.0.0.1:9/hooks', events: ['ticket.opened'] }, crm.token)).status).toBe(201)

    const listed = (await t.api('GET', '/tokens')).body
    expect(listed.map((x: any) => x.name)).toEqual(expect.arrayContaining(['wallboard', 'crm']))
    expect(JSON.stringify(listed)).not.toContain(viewer.token)

    expect((await t.api('DELETE', `/tokens/${viewer.id}`)).status).toBe(204)
    expect((await t.api('GET', '/tickets', undefined, viewer.token)).status).toBe(401)
  })

  it('refuses a bad body with every problem and its path', async () => {
    const res = await t.api('POST', '/devices', { id: 'has space', typeId: 'Washer!', colour: 'red' })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('PRECALL_ERR_VALIDATION')
    expect(res.body.problems.map((p: any) => p.path)).toEqual(expect.arrayContaining(['body.id', 'body.typeId']))
    expect(res.body.message).toMatch(/body\.id: .*letters, digits/)
  })

  it('refuses a device of an unknown type or customer with a reason that says what to do', async () => {
    const res = await t.api('POST', '/devices', { id: 'wm-x', typeId: 'dryer' })
    expect(res).toMatchObject({ status: 400, body: { code: 'PRECALL_ERR_VALIDATION' } })
    expect(res.body.message).toContain('POST /api/v1/device-types')
    expect((await t.api('POST', '/devices', { id: 'wm-x', typeId: 'washer', customerId: 'nobody' })).body.message).toContain('unknown customer')
  })

  it('shows a device secret once and stores only a hash of it', async () => {
    const created = expectStatus(await t.api('POST', '/devices', { id: 'wm-secret', typeId: 'washer', serial: 'SN-S' }), 201).body
    expect(created.secret.length).toBeGreaterThanOrEqual(32)
    expect(JSON.stringify((await t.api('GET', '/devices/wm-secret')).body)).not.toContain(created.secret)
    const [row] = await t.gateway.database.query<{ secret_hash: string }>(sql`select secret_hash from devices where id = 'wm-secret'`)
    expect(row.secret_hash).toMatch(/^scrypt\$/)
    expect(row.secret_hash).not.toContain(created.secret)
    expect((await t.api('POST', '/devices', { id: 'wm-secret', typeId: 'washer' })).status).toBe(409)
  })

  it('refuses an invalid rule with every problem and its JSON path, and versions valid ones', async () => {
    const bad = await t.api('POST', '/rules', { ...DRAIN_RULE, severity: 'urgent', when: { ...DRAIN_RULE.when, metric: 'drian_time_s', for: 'ten minutes' } })
    expect(bad.status).toBe(422)
    expect(bad.body.code).toBe('PRECALL_ERR_RULE_INVALID')
    const paths = bad.body.problems.map((p: any) => p.path)
    expect(paths).toEqual(expect.arrayContaining(['severity', 'when.metric', 'when.for']))
    expect(bad.body.message).toContain('did you mean drain_time_s?')

    const dry = expectStatus(await t.api('POST', '/rules/validate', { ...DRAIN_RULE, deviceType: 'wahser' }), 200).body
    expect(dry).toMatchObject({ ok: false, problems: [{ path: 'deviceType' }] })

    expect(expectStatus(await t.api('POST', '/rules', DRAIN_RULE), 201).body.version).toBe(1)
    expect(expectStatus(await t.api('POST', '/rules', { ...DRAIN_RULE, when: { ...DRAIN_RULE.when, value: 130 } }), 201).body.version).toBe(2)
    const rule = (await t.api('GET', `/rules/${DRAIN_RULE.id}`)).body
    expect(rule).toMatchObject({ version: 2, activeVersion: 2, document: { when: { value: 130 } } })
    expect(rule.versions.map((v: any) => v.version)).toEqual([2, 1])
  })

  it('refuses a webhook to a private address unless allowed', async () => {
    const strict = await startTestGateway(backend, { WEBHOOK_ALLOW_PRIVATE: 'false' })
    try {
      const res = await strict.api('POST', '/webhooks', { url: 'http://10.0.0.5/hooks', events: ['ticket.opened'] })
      expect(res).toMatchObject({ status: 422, body: { code: 'PRECALL_ERR_UNSAFE_URL' } })
    } finally {
      await strict.close()
    }
  })

  it('answers 404 with a code for unknown tickets and routes, and serves docs, health and metrics', async () => {
    expect((await t.api('GET', '/tickets/tkt_nope')).body.code).toBe('PRECALL_ERR_NOT_FOUND')
    expect((await t.api('GET', '/nothing-here')).status).toBe(404)
    const spec = await t.gateway.http.inject({ url: '/docs/json' })
    expect(Object.keys(spec.json().paths)).toEqual(expect.arrayContaining(['/api/v1/devices', '/api/v1/tickets/{id}', '/api/v1/webhooks']))
    expect((await t.gateway.http.inject({ url: '/readyz' })).json()).toMatchObject({ status: 'ready', database: backend })
    expect((await t.gateway.http.inject({ url: '/metrics' })).body).toMatch(/precall_http_refused_total\{code="PRECALL_ERR_UNAUTHENTICATED"\} \d+/)
    const some = (await t.gateway.http.inject({ url: '/metrics?name=precall_http_refused_total&name=precall_mqtt_clients&name=no_such_metric' })).body
    expect(some).toMatch(/precall_http_refused_total\{code="PRECALL_ERR_UNAUTHENTICATED"\} \d+/)
    expect(some).toMatch(/^precall_mqtt_clients \d+/m)
    expect(some).not.toMatch(/precall_kpi_|precall_readings_accepted_total/)
  })
})
