import { setTimeout as sleep } from 'node:timers/promises'
import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { webhookSubscriptions } from '../../gateway/db/schema.js'
import { claimDue } from '../../gateway/outbox/claim-due.js'
import { recordOutcome } from '../../gateway/outbox/record-outcome.js'
import type { OutboxDispatcher } from '../../gateway/outbox/dispatcher.js'
import { enqueueTicketEvent } from '../../gateway/outbox/outbox-store.js'
import type { WebhookEvent } from '../../gateway/outbox/subscription-store.js'
import { BACKENDS } from '../support/databases.js'
import { OUTBOX_CONFIG, useDispatchTestBed } from './harness.js'
import { startReceiver } from './receiver.js'

const eventOf = (r: { body: string }) => {
  const { type, data } = JSON.parse(r.body) as { type: string; data: { ticket: { id: string } } }
  return `${data.ticket.id}:${type}`
}

describe.each(BACKENDS)('dispatcher ordering and leases (%s)', (backend) => {
  const bed = useDispatchTestBed(backend)

  it('holds a ticket\'s later event until the earlier one is delivered, without blocking other tickets', async () => {
    bed.receiver.script([{ status: 500 }])
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['*'] })
    await bed.h.enqueue('t-d1', 'ticket.opened')
    await bed.h.enqueue('t-d1', 'ticket.updated')
    await bed.h.enqueue('t-d2', 'ticket.opened')
    const dispatcher = bed.h.dispatcher()

    expect(await dispatcher.runOnce()).toBe(2) // t-d1 opened (fails) and t-d2 opened
    bed.h.advance(5_000)
    expect(await dispatcher.runOnce()).toBe(0) // t-d1 updated is due but waits behind opened
    bed.h.advance(5_000)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(bed.receiver.received.map(eventOf)).toEqual(['t-d1:ticket.opened', 't-d2:ticket.opened', 't-d1:ticket.opened', 't-d1:ticket.updated'])
    expect((await bed.h.deliveriesOf('t-d1')).map((d) => d.status)).toEqual(['delivered', 'delivered'])
  })

  it('sends one subscription\'s messages about different tickets side by side, each ticket\'s in order', async () => {
    bed.receiver.script(Array(12).fill({ status: 200, delayMs: 50 }))
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['*'] })
    for (let i = 0; i < 6; i++) {
      await bed.h.enqueue(`t-p${i}`, 'ticket.opened')
      await bed.h.enqueue(`t-p${i}`, 'ticket.updated')
    }
    const dispatcher = bed.h.dispatcher()
    expect(await dispatcher.runOnce()).toBe(6)
    expect(await dispatcher.runOnce()).toBe(6)
    expect(bed.receiver.maxInFlight).toBeGreaterThan(1)
    const events = bed.receiver.received.map(eventOf)
    for (let i = 0; i < 6; i++) expect(events.indexOf(`t-p${i}:ticket.opened`)).toBeLessThan(events.indexOf(`t-p${i}:ticket.updated`))
  })

  it('gives a crashed worker\'s rows to another worker only once the lease has expired', async () => {
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    await bed.h.enqueue('t-e')
    // The "dead" worker claims and never delivers.
    const claimed = await claimDue(bed.database.db, { now: bed.h.now(), leaseMs: OUTBOX_CONFIG.leaseMs, workerId: 'crashed', limit: 10 })
    expect(claimed.map((r) => r.ticketId)).toEqual(['t-e'])

    const survivor = bed.h.dispatcher({}, 'survivor')
    expect(await survivor.runOnce()).toBe(0)
    bed.h.advance(OUTBOX_CONFIG.leaseMs)
    expect(await survivor.runOnce()).toBe(0) // locked_until == now: still leased
    bed.h.advance(1)
    expect(await survivor.runOnce()).toBe(1)
    expect(bed.receiver.received).toHaveLength(1)
    const [delivery] = await bed.h.deliveriesOf('t-e')
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lockedBy: null, lockedUntil: null })
  })

  it('logs a late worker\'s delivery, but leaves the row to the worker that holds it now', async () => {
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    await bed.h.enqueue('t-late')
    const [row] = await claimDue(bed.database.db, { now: bed.h.now(), leaseMs: OUTBOX_CONFIG.leaseMs, workerId: 'slow', limit: 10 })
    bed.h.advance(OUTBOX_CONFIG.leaseMs + 1)
    const [taken] = await claimDue(bed.database.db, { now: bed.h.now(), leaseMs: OUTBOX_CONFIG.leaseMs, workerId: 'current', limit: 10 })
    expect(taken.id).toBe(row.id)
    const outcome = { startedAt: bed.h.now(), durationMs: 5, now: bed.h.now(), retryScheduleMs: [1000], random: () => 0.5 }
    await recordOutcome(bed.database.db, { ...outcome, row, result: { outcome: 'delivered', statusCode: 204 }, workerId: 'slow' })
    const [held] = await bed.h.deliveriesOf('t-late')
    expect(held).toMatchObject({ status: 'pending', attempts: 0, lockedBy: 'current' })
    expect(held.attemptLog.map((a) => [a.outcome, a.statusCode])).toEqual([['delivered', 204]])

    await recordOutcome(bed.database.db, { ...outcome, row: taken, result: { outcome: 'delivered', statusCode: 200 }, workerId: 'current' })
    const [delivered] = await bed.h.deliveriesOf('t-late')
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 1, lockedBy: null, lockedUntil: null, deliveredAt: new Date(bed.h.now()) })
    expect(delivered.attemptLog.map((a) => a.statusCode)).toEqual([204, 200])
  })

  it('claims nothing of a disabled subscription until it is enabled again', async () => {
    const { subscription } = await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    await bed.h.enqueue('t-off')
    // Disabled behind the stores' back (as an operator would in SQL): the claim itself must hold.
    await bed.database.db.update(webhookSubscriptions).set({ enabled: false }).where(eq(webhookSubscriptions.id, subscription.id))
    const dispatcher = bed.h.dispatcher()
    expect(await dispatcher.runOnce()).toBe(0)
    await bed.h.subscriptions.enable(subscription.id)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(bed.receiver.received.map(eventOf)).toEqual(['t-off:ticket.opened'])
  })

  it('delivers to several subscriptions in one pass, each signed with its own secret', async () => {
    const other = await startReceiver()
    try {
      await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.updated'] })
      await bed.h.subscriptions.create({ url: other.url, events: ['ticket.updated'] })
      expect(await bed.h.enqueue('t-many', 'ticket.updated')).toBe(2)
      expect(await bed.h.dispatcher().runOnce()).toBe(2)
      expect([bed.receiver.received.length, other.received.length]).toEqual([1, 1])
      expect(bed.receiver.received[0].headers['webhook-id']).not.toBe(other.received[0].headers['webhook-id'])
      expect(bed.receiver.received[0].headers['webhook-signature']).not.toBe(other.received[0].headers['webhook-signature'])
    } finally {
      await other.close()
    }
  })

  it('delivers a new ticket while a pass is still waiting on a slow answer about another', async () => {
    bed.receiver.script(['hang'])
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    const dispatcher = bed.h.dispatcher({ pollMs: 60_000, timeoutMs: 3_000 })
    dispatcher.start()
    await bed.h.enqueue('t-slow')
    dispatcher.wake()
    await expect.poll(() => bed.receiver.received.length, { timeout: 2_000 }).toBe(1)
    await bed.h.enqueue('t-fast')
    dispatcher.wake()
    // One pass after another, t-fast would wait out t-slow's 3 s timeout.
    await expect.poll(async () => (await bed.h.deliveriesOf('t-fast'))[0]?.status, { timeout: 2_000 }).toBe('delivered')
    expect((await bed.h.deliveriesOf('t-slow'))[0]).toMatchObject({ status: 'pending', attempts: 0 })
    await dispatcher.stop()
  })

  it('keeps to the per-subscription limit across passes that overlap', async () => {
    bed.receiver.script(Array(10).fill({ status: 200, delayMs: 80 }))
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    const dispatcher = bed.h.dispatcher({ pollMs: 60_000 }, undefined, { perSubscription: 2, passes: 4 })
    dispatcher.start()
    for (let i = 0; i < 10; i++) {
      await bed.h.enqueue(`t-l${i}`)
      dispatcher.wake()
    }
    await expect.poll(() => bed.receiver.received.length, { timeout: 5_000 }).toBe(10)
    await dispatcher.stop()
    expect(bed.receiver.maxInFlight).toBe(2)
  })

  describe('hand-off of what a transaction just queued', () => {
    const enqueueLeased = (dispatcher: OutboxDispatcher, ticketId: string, type: WebhookEvent) =>
      bed.database.db.transaction((tx) => enqueueTicketEvent(tx, { type, ticket: { id: ticketId } }, new Date(bed.h.now()), dispatcher.lease(new Date(bed.h.now()))))

    it('sends a new ticket\'s webhook on commit, leased to this worker, with no pass to claim it', async () => {
      await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
      const dispatcher = bed.h.dispatcher({ pollMs: 3_600_000 }, 'here')
      expect(dispatcher.lease(new Date(bed.h.now()))).toBeUndefined() // not started: nothing to hand to
      dispatcher.start()
      const queued = await enqueueLeased(dispatcher, 't-h1', 'ticket.opened')
      // Leased until the virtual clock moves on by the lease, so no pass could claim it.
      expect(queued.rows.map((r) => r.lockedBy)).toEqual(['here'])
      expect(await claimDue(bed.database.db, { now: bed.h.now(), leaseMs: 1_000, workerId: 'other', limit: 10 })).toEqual([])
      dispatcher.handOff(queued)
      await expect.poll(async () => (await bed.h.deliveriesOf('t-h1'))[0]?.status, { timeout: 2_000 }).toBe('delivered')
      expect(bed.receiver.received.map(eventOf)).toEqual(['t-h1:ticket.opened'])
      await dispatcher.stop()
    })

    it('leaves a ticket\'s next message to a pass once the one handed off before it is delivered', async () => {
      bed.receiver.script([{ status: 200, delayMs: 150 }, { status: 200 }])
      await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['*'] })
      const dispatcher = bed.h.dispatcher({ pollMs: 3_600_000 }, 'here')
      dispatcher.start()
      dispatcher.handOff(await enqueueLeased(dispatcher, 't-h2', 'ticket.opened'))
      const updated = await enqueueLeased(dispatcher, 't-h2', 'ticket.updated')
      expect(updated.rows.map((r) => r.lockedBy)).toEqual([null]) // behind the opened one, still pending
      dispatcher.handOff(updated)
      // No poll within the hour: the opened one's delivery is what lets a pass claim the update.
      await expect.poll(() => bed.receiver.received.length, { timeout: 3_000 }).toBe(2)
      expect(bed.receiver.received.map(eventOf)).toEqual(['t-h2:ticket.opened', 't-h2:ticket.updated'])
      await dispatcher.stop()
      expect((await bed.h.deliveriesOf('t-h2')).map((d) => d.status)).toEqual(['delivered', 'delivered'])
    })

    it('runs no pass after a hand-off that held nothing back', async () => {
      await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
      const dispatcher = bed.h.dispatcher({ pollMs: 3_600_000 }, 'here')
      dispatcher.start()
      await sleep(200) // the pass a start runs has found nothing; the next is the poll's, in an hour
      // Queued by another instance, unleased, and nobody woken here: only a pass would claim it.
      await bed.h.enqueue('t-h4', 'ticket.opened')
      dispatcher.handOff(await enqueueLeased(dispatcher, 't-h5', 'ticket.opened'))
      await expect.poll(async () => (await bed.h.deliveriesOf('t-h5'))[0]?.status, { timeout: 2_000 }).toBe('delivered')
      await sleep(300)
      expect(bed.receiver.received.map(eventOf)).toEqual(['t-h5:ticket.opened'])
      // It was claimable all along: a wake (or the poll) sends it.
      dispatcher.wake()
      await expect.poll(() => bed.receiver.received.length, { timeout: 2_000 }).toBe(2)
      await dispatcher.stop()
    })

    it('sends nothing handed to it once stopping, and the leased message goes with a pass after its lease', async () => {
      await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
      const stopping = bed.h.dispatcher({ pollMs: 3_600_000 }, 'stopping')
      stopping.start()
      const queued = await enqueueLeased(stopping, 't-h3', 'ticket.opened')
      await stopping.stop()
      stopping.handOff(queued)
      const other = bed.h.dispatcher({}, 'other')
      expect(await other.runOnce()).toBe(0) // still leased to the stopped worker
      bed.h.advance(OUTBOX_CONFIG.leaseMs + 1)
      expect(await other.runOnce()).toBe(1)
      expect(bed.receiver.received.map(eventOf)).toEqual(['t-h3:ticket.opened'])
      // One attempt, the pass's: nothing was tried while stopping.
      expect((await bed.h.deliveriesOf('t-h3'))[0].attemptLog.map((a) => a.outcome)).toEqual(['delivered'])
    })
  })

  it('polls when started, wakes on demand, and stops only after the pass under way', async () => {
    bed.receiver.script(['hang'])
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    const dispatcher = bed.h.dispatcher({ pollMs: 60_000 })
    dispatcher.start()
    await bed.h.enqueue('t-wake')
    dispatcher.wake() // without it, the next poll is a minute away
    await expect.poll(() => bed.receiver.received.length, { timeout: 5_000 }).toBe(1)
    await dispatcher.stop() // the receiver hangs: stop must wait for the timeout and its record
    const [delivery] = await bed.h.deliveriesOf('t-wake')
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, lockedBy: null })
    expect(delivery.attemptLog.map((a) => a.outcome)).toEqual(['retry'])
  })
})
