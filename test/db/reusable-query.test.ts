import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { reusableQuery, valueOf } from '../../gateway/db/reusable-query.js'
import { outbox, webhookSubscriptions } from '../../gateway/db/schema.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'

// Built once per driver, whichever session asked first; each call brings its own values.
const subscriptionById = reusableQuery((db) => db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, sql.placeholder('id'))))
const disable = reusableQuery((db) => db.update(webhookSubscriptions)
  .set({ enabled: false, disabledReason: sql.placeholder('reason') as unknown as string, updatedAt: sql.placeholder('at') as unknown as Date })
  .where(eq(webhookSubscriptions.id, sql.placeholder('id'))).returning())

const subscription = (id: string) => ({ id, url: `https://crm.example/${id}`, events: ['*'], secrets: [{ secret: 'whsec_x', expiresAt: null }] })

const lock = reusableQuery((db) => db.update(outbox)
  .set({ lockedUntil: valueOf<Date | null>('until'), lockedBy: valueOf<string | null>('by') })
  .where(eq(outbox.id, sql.placeholder('id'))).returning())

describe.each(BACKENDS)('a reusable query on %s', (backend) => {
  let database: Database
  beforeAll(async () => {
    database = await openTestDatabase(backend)
    await database.db.insert(webhookSubscriptions).values([subscription('a'), subscription('b')])
  })
  afterAll(async () => database?.close())

  it('runs with each call\'s values, and maps rows as drizzle does', async () => {
    const [a] = await subscriptionById(database.db, { id: 'a' })
    const [b] = await subscriptionById(database.db, { id: 'b' })
    expect([a.id, b.id]).toEqual(['a', 'b'])
    expect(a.createdAt).toBeInstanceOf(Date)
    expect(a.secrets).toEqual([{ secret: 'whsec_x', expiresAt: null }])
    const at = new Date('2026-11-24T12:00:00.000Z')
    const [disabled] = await disable(database.db, { id: 'b', reason: 'gone', at })
    expect(disabled).toMatchObject({ id: 'b', enabled: false, disabledReason: 'gone', updatedAt: at })
  })

  it('binds null as NULL, also for a column whose values drizzle encodes (a timestamp)', async () => {
    const [row] = await database.db.insert(outbox).values({ messageId: 'msg_1', subscriptionId: 'a', eventType: 'ticket.opened', payload: {} }).returning()
    const until = new Date('2026-11-24T12:00:30.000Z')
    expect((await lock(database.db, { id: row.id, until, by: 'w1' }))[0]).toMatchObject({ lockedUntil: until, lockedBy: 'w1' })
    expect((await lock(database.db, { id: row.id, until: null, by: null }))[0]).toMatchObject({ lockedUntil: null, lockedBy: null })
  })

  it('runs inside the transaction it is given: it sees the transaction\'s rows, and they go with it', async () => {
    const rolledBack = new Error('roll back')
    await expect(database.db.transaction(async (tx) => {
      await tx.insert(webhookSubscriptions).values(subscription('c'))
      expect(await subscriptionById(tx, { id: 'c' })).toHaveLength(1)
      await disable(tx, { id: 'a', reason: 'test', at: new Date() })
      throw rolledBack
    })).rejects.toBe(rolledBack)
    expect(await subscriptionById(database.db, { id: 'c' })).toHaveLength(0)
    const [a] = await subscriptionById(database.db, { id: 'a' })
    expect(a.enabled).toBe(true)
  })
})
