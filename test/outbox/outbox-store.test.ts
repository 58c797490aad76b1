import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { enqueueTicketEvent } from '../../gateway/outbox/outbox-store.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { createHarness } from './harness.js'

describe.each(BACKENDS)('outbox store (%s)', (backend) => {
  let database: Database

  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })

  it('queues one row per enabled subscription that wants the event, with a stable message id', async () => {
    const h = createHarness(database)
    const opened = await h.subscriptions.create({ url: 'http://127.0.0.1:1/a', events: ['ticket.opened'] })
    const all = await h.subscriptions.create({ url: 'http://127.0.0.1:1/b', events: ['*'] })
    await h.subscriptions.create({ url: 'http://127.0.0.1:1/c', events: ['ticket.resolved'] })
    const removed = await h.subscriptions.create({ url: 'http://127.0.0.1:1/d', events: ['*'] })
    await h.subscriptions.remove(removed.subscription.id)

    const ticket = { id: 't-q', title: 'Drain pump clogging', openedAt: new Date(h.now()) }
    const queued = await database.db.transaction((tx) => enqueueTicketEvent(tx, { type: 'ticket.opened', ticket }, new Date(h.now())))
    expect(queued.subscriptions).toEqual([]) // only asked for with a lease
    const rows = await h.deliveriesOf('t-q')
    expect(queued.rows.map((r) => r.id).sort()).toEqual(rows.map((r) => r.id).sort())
    expect(queued.rows.every((r) => r.lockedBy === null && r.lockedUntil === null)).toBe(true)
    expect(rows.map((r) => r.subscriptionId).sort()).toEqual([opened.subscription.id, all.subscription.id].sort())
    for (const r of rows) {
      expect(r.messageId).toMatch(/^msg_[0-9a-hjkmnp-tv-z]{26}$/)
      expect(r).toMatchObject({ status: 'pending', attempts: 0, eventType: 'ticket.opened' })
      expect(r.nextAttemptAt.getTime()).toBe(h.now())
      expect(r.payload).toEqual({ type: 'ticket.opened', timestamp: new Date(h.now()).toISOString(), data: { ticket: { ...ticket, openedAt: ticket.openedAt.toISOString() } } })
    }
    expect(new Set(rows.map((r) => r.messageId)).size).toBe(2)
    expect(await h.outbox.pendingCount()).toBe(2)
    await h.close()
  })

  it('with a lease, leases to the worker only the messages no earlier pending one waits for, and reads the subscriptions', async () => {
    const h = createHarness(database)
    const a = await h.subscriptions.create({ url: 'http://127.0.0.1:1/la', events: ['*'] })
    const b = await h.subscriptions.create({ url: 'http://127.0.0.1:1/lb', events: ['*'] })
    const lease = { workerId: 'here', until: new Date(h.now() + 30_000) }
    const enqueue = (ticketId: string, type: 'ticket.opened' | 'ticket.updated') =>
      database.db.transaction((tx) => enqueueTicketEvent(tx, { type, ticket: { id: ticketId } }, new Date(h.now()), lease))

    const opened = await enqueue('t-lease', 'ticket.opened')
    expect(opened.rows.map((r) => [r.lockedBy, r.lockedUntil?.getTime()])).toEqual([['here', lease.until.getTime()], ['here', lease.until.getTime()]])
    expect(opened.subscriptions.map((s) => s.id).sort()).toEqual([a.subscription.id, b.subscription.id].sort())
    expect(opened.subscriptions.every((s) => s.secrets.length > 0)).toBe(true) // what signing needs

    // Still pending: the update waits behind it, unleased, for a pass to claim in order.
    const updated = await enqueue('t-lease', 'ticket.updated')
    expect(updated.rows.map((r) => r.lockedBy)).toEqual([null, null])
    // Another ticket is not held back by this one.
    expect((await enqueue('t-lease-2', 'ticket.opened')).rows.map((r) => r.lockedBy)).toEqual(['here', 'here'])
    const stored = await h.deliveriesOf('t-lease')
    expect(stored.map((r) => r.lockedBy)).toEqual(['here', 'here', null, null])
    await h.close()
  })

  it('queues nothing when the ticket change rolls back', async () => {
    const h = createHarness(database)
    await h.subscriptions.create({ url: 'http://127.0.0.1:1/r', events: ['*'] })
    await expect(database.db.transaction(async (tx) => {
      await enqueueTicketEvent(tx, { type: 'ticket.updated', ticket: { id: 't-rollback' } }, new Date(h.now()))
      throw new Error('ticket update failed')
    })).rejects.toThrow('ticket update failed')
    expect(await h.deliveriesOf('t-rollback')).toEqual([])
    await h.close()
  })

  it('lists deliveries by status, subscription and ticket, newest first', async () => {
    const h = createHarness(database)
    const a = await h.subscriptions.create({ url: 'http://127.0.0.1:1/l', events: ['*'] })
    await h.enqueue('t-l1', 'ticket.opened')
    await h.enqueue('t-l1', 'ticket.escalated')
    await h.enqueue('t-l2', 'ticket.opened')
    const mine = await h.outbox.listDeliveries({ subscriptionId: a.subscription.id })
    expect(mine.map((d) => `${d.ticketId}:${d.eventType}`)).toEqual(['t-l2:ticket.opened', 't-l1:ticket.escalated', 't-l1:ticket.opened'])
    expect(mine.every((d) => d.attemptLog.length === 0)).toBe(true)
    expect(await h.outbox.listDeliveries({ subscriptionId: a.subscription.id, limit: 1 })).toHaveLength(1)
    expect(await h.outbox.listDeliveries({ subscriptionId: a.subscription.id, ticketId: 't-l1', status: 'pending' })).toHaveLength(2)
    expect(await h.outbox.listDeliveries({ subscriptionId: a.subscription.id, status: 'delivered' })).toEqual([])
    expect(await h.outbox.getDelivery(mine[0].id)).toMatchObject({ id: mine[0].id, attemptLog: [] })
    expect(await h.outbox.getDelivery(-1)).toBeUndefined()
    await expect(h.outbox.replayDelivery(mine[0].id)).rejects.toMatchObject({ code: 'PRECALL_ERR_CONFLICT' })
    await h.close()
    // Removing the subscription cancelled what it still owed.
    expect((await h.outbox.listDeliveries({ subscriptionId: a.subscription.id })).map((d) => d.status)).toEqual(['cancelled', 'cancelled', 'cancelled'])
  })
})
