import { eq } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { webhookSubscriptions } from '../../gateway/db/schema.js'
import { claimDue } from '../../gateway/outbox/claim-due.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { createHarness, OUTBOX_CONFIG, type Harness } from './harness.js'
import { startReceiver, type Receiver } from './receiver.js'

const eventOf = (r: { body: string }) => {
  const { type, data } = JSON.parse(r.body) as { type: string; data: { ticket: { id: string } } }
  return `${data.ticket.id}:${type}`
}

describe.each(BACKENDS)('dispatcher ordering and leases (%s)', (backend) => {
  let database: Database
  let h: Harness
  let receiver: Receiver

  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })
  beforeEach(async () => {
    h = createHarness(database)
    receiver = await startReceiver()
  })
  afterEach(async () => {
    await h.close()
    await receiver.close()
  })

  it('holds a ticket\'s later event until the earlier one is delivered, without blocking other tickets', async () => {
    receiver.script([{ status: 500 }])
    await h.subscriptions.create({ url: receiver.url, events: ['*'] })
    await h.enqueue('t-d1', 'ticket.opened')
    await h.enqueue('t-d1', 'ticket.updated')
    await h.enqueue('t-d2', 'ticket.opened')
    const dispatcher = h.dispatcher()

    expect(await dispatcher.runOnce()).toBe(2) // t-d1 opened (fails) and t-d2 opened
    h.advance(5_000)
    expect(await dispatcher.runOnce()).toBe(0) // t-d1 updated is due but waits behind opened
    h.advance(5_000)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(receiver.received.map(eventOf)).toEqual(['t-d1:ticket.opened', 't-d2:ticket.opened', 't-d1:ticket.opened', 't-d1:ticket.updated'])
    expect((await h.deliveriesOf('t-d1')).map((d) => d.status)).toEqual(['delivered', 'delivered'])
  })

  it('gives a crashed worker\'s rows to another worker only once the lease has expired', async () => {
    await h.subscriptions.create({ url: receiver.url, events: ['ticket.opened'] })
    await h.enqueue('t-e')
    // The "dead" worker claims and never delivers.
    const claimed = await claimDue(database.db, { now: h.now(), leaseMs: OUTBOX_CONFIG.leaseMs, workerId: 'crashed', limit: 10 })
    expect(claimed.map((r) => r.ticketId)).toEqual(['t-e'])

    const survivor = h.dispatcher({}, 'survivor')
    expect(await survivor.runOnce()).toBe(0)
    h.advance(OUTBOX_CONFIG.leaseMs)
    expect(await survivor.runOnce()).toBe(0) // locked_until == now: still leased
    h.advance(1)
    expect(await survivor.runOnce()).toBe(1)
    expect(receiver.received).toHaveLength(1)
    const [delivery] = await h.deliveriesOf('t-e')
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lockedBy: null, lockedUntil: null })
  })

  it('claims nothing of a disabled subscription until it is enabled again', async () => {
    const { subscription } = await h.subscriptions.create({ url: receiver.url, events: ['ticket.opened'] })
    await h.enqueue('t-off')
    // Disabled behind the stores' back (as an operator would in SQL): the claim itself must hold.
    await database.db.update(webhookSubscriptions).set({ enabled: false }).where(eq(webhookSubscriptions.id, subscription.id))
    const dispatcher = h.dispatcher()
    expect(await dispatcher.runOnce()).toBe(0)
    await h.subscriptions.enable(subscription.id)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(receiver.received.map(eventOf)).toEqual(['t-off:ticket.opened'])
  })

  it('delivers to several subscriptions in one pass, each signed with its own secret', async () => {
    const other = await startReceiver()
    try {
      await h.subscriptions.create({ url: receiver.url, events: ['ticket.updated'] })
      await h.subscriptions.create({ url: other.url, events: ['ticket.updated'] })
      expect(await h.enqueue('t-many', 'ticket.updated')).toBe(2)
      expect(await h.dispatcher().runOnce()).toBe(2)
      expect([receiver.received.length, other.received.length]).toEqual([1, 1])
      expect(receiver.received[0].headers['webhook-id']).not.toBe(other.received[0].headers['webhook-id'])
      expect(receiver.received[0].headers['webhook-signature']).not.toBe(other.received[0].headers['webhook-signature'])
    } finally {
      await other.close()
    }
  })

  it('polls when started, wakes on demand, and stops only after the pass under way', async () => {
    receiver.script(['hang'])
    await h.subscriptions.create({ url: receiver.url, events: ['ticket.opened'] })
    const dispatcher = h.dispatcher({ pollMs: 60_000 })
    dispatcher.start()
    await h.enqueue('t-wake')
    dispatcher.wake() // without it, the next poll is a minute away
    await expect.poll(() => receiver.received.length, { timeout: 5_000 }).toBe(1)
    await dispatcher.stop() // the receiver hangs: stop must wait for the timeout and its record
    const [delivery] = await h.deliveriesOf('t-wake')
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, lockedBy: null })
    expect(delivery.attemptLog.map((a) => a.outcome)).toEqual(['retry'])
  })
})
