import { eq } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { webhookSubscriptions } from '../../gateway/db/schema.js'
import { signWebhook } from '../../gateway/outbox/sign.js'
import { createSubscriptionStore } from '../../gateway/outbox/subscription-store.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'

describe.each(BACKENDS)('subscription store (%s)', (backend) => {
  let database: Database
  let t = Date.parse('2025-03-01T12:00:00Z')
  const now = () => t
  const store = () => createSubscriptionStore(database, { allowPrivateAddresses: false, now })

  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })

  const secretsOf = async (id: string) =>
    (await database.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)))[0].secrets

  it('creates a subscription and hands out its secret once', async () => {
    const { subscription, secret } = await store().create({ url: 'https://crm.example.com/hooks', events: ['ticket.opened', 'ticket.opened', 'ticket.resolved'], description: 'CRM' })
    expect(secret).toMatch(/^whsec_/)
    expect(subscription).toMatchObject({ url: 'https://crm.example.com/hooks', events: ['ticket.opened', 'ticket.resolved'], enabled: true, description: 'CRM' })
    expect(subscription).not.toHaveProperty('secrets')
    expect(await store().get(subscription.id)).toEqual(subscription)
    expect(await store().get(subscription.id)).not.toHaveProperty('secrets')
    expect((await store().list()).map((s) => s.id)).toContain(subscription.id)
    expect(JSON.stringify(await store().list())).not.toContain(secret)
    expect(await store().get('whk_missing')).toBeUndefined()
  })

  it('refuses private addresses unless the gateway allows them', async () => {
    await expect(store().create({ url: 'http://10.0.0.5/hook', events: ['*'] })).rejects.toMatchObject({ code: 'PRECALL_ERR_UNSAFE_URL' })
    await expect(store().create({ url: 'http://[::ffff:127.0.0.1]:8080/hook', events: ['*'] })).rejects.toMatchObject({ code: 'PRECALL_ERR_UNSAFE_URL' })
    const permissive = createSubscriptionStore(database, { allowPrivateAddresses: true, now })
    await expect(permissive.create({ url: 'http://10.0.0.5/hook', events: ['*'] })).resolves.toMatchObject({ subscription: { url: 'http://10.0.0.5/hook' } })
  })

  it('accepts only known event types or *', async () => {
    await expect(store().create({ url: 'https://crm.example.com/x', events: [] })).rejects.toMatchObject({ code: 'PRECALL_ERR_VALIDATION' })
    await expect(store().create({ url: 'https://crm.example.com/x', events: ['ticket.deleted'] })).rejects.toMatchObject({ code: 'PRECALL_ERR_VALIDATION' })
    await expect(store().create({ url: 'https://crm.example.com/x', events: ['*'] })).resolves.toBeDefined()
  })

  it('rotates: the new secret signs first and the old one keeps signing until it expires', async () => {
    const { subscription, secret: old } = await store().create({ url: 'https://crm.example.com/rot', events: ['*'] })
    const { secret: fresh } = await store().rotateSecret(subscription.id, { keepOldForMs: 3_600_000 })
    const secrets = await secretsOf(subscription.id)
    expect(secrets).toEqual([{ secret: fresh, expiresAt: null }, { secret: old, expiresAt: new Date(t + 3_600_000).toISOString() }])

    const timestamp = Math.floor(Date.now() / 1000)
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook({ secrets: secrets.map((s) => s.secret), id: 'msg_1', timestamp, body: '{}' }) }
    expect(new Webhook(old).verify('{}', headers)).toEqual({})
    expect(new Webhook(fresh).verify('{}', headers)).toEqual({})

    // A second rotation after the first grace period drops the expired secret for good.
    t += 3_600_001
    const { secret: third } = await store().rotateSecret(subscription.id)
    expect((await secretsOf(subscription.id)).map((s) => s.secret)).toEqual([third, fresh])
    expect((await secretsOf(subscription.id))[1].expiresAt).toBe(new Date(t + 86_400_000).toISOString())
  })

  it('removes by disabling, keeps the row, and can enable it again', async () => {
    const { subscription } = await store().create({ url: 'https://crm.example.com/rm', events: ['*'] })
    await store().remove(subscription.id)
    expect(await store().get(subscription.id)).toMatchObject({ enabled: false, disabledReason: 'removed' })
    await store().enable(subscription.id)
    expect(await store().get(subscription.id)).toMatchObject({ enabled: true, disabledReason: null })
    await expect(store().remove('whk_missing')).rejects.toMatchObject({ code: 'PRECALL_ERR_NOT_FOUND' })
    await expect(store().rotateSecret('whk_missing')).rejects.toMatchObject({ code: 'PRECALL_ERR_NOT_FOUND' })
  })
})
