import { and, asc, count, desc, eq, inArray, type SQL } from 'drizzle-orm'
import type { Database, Db, Tx } from '../db/database.js'
import { newId } from '../db/ids.js'
import { deliveryAttempts, outbox, webhookSubscriptions } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import type { WebhookEvent } from './subscription-store.js'

export type OutboxRow = typeof outbox.$inferSelect
export type DeliveryAttempt = typeof deliveryAttempts.$inferSelect
/** An outbox row with its attempt log, oldest attempt first. */
export type Delivery = OutboxRow & { attemptLog: DeliveryAttempt[] }
export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'cancelled'

/**
 * Queues one message per enabled subscription that wants `type`, inside the caller's transaction:
 * the ticket change and the promise to announce it commit together or not at all. The message id
 * is minted here, once, and is the `webhook-id` of every attempt so receivers can de-duplicate.
 */
export async function enqueueTicketEvent(tx: Tx | Db, event: { type: WebhookEvent; ticket: { id: string; [field: string]: unknown } }, now: Date): Promise<number> {
  // Subscriptions are few; filtering them here keeps the query the same on both drivers.
  const subscriptions = await tx.select({ id: webhookSubscriptions.id, events: webhookSubscriptions.events })
    .from(webhookSubscriptions)
    .where(eq(webhookSubscriptions.enabled, true))
  const targets = subscriptions.filter((s) => s.events.includes(event.type) || s.events.includes('*'))
  if (targets.length === 0) return 0
  const payload = { type: event.type, timestamp: now.toISOString(), data: { ticket: event.ticket } }
  await tx.insert(outbox).values(targets.map((s) => ({
    messageId: newId('msg', now.getTime()),
    subscriptionId: s.id,
    eventType: event.type,
    ticketId: event.ticket.id,
    payload,
    nextAttemptAt: now,
    createdAt: now,
  })))
  return targets.length
}

export function createOutboxStore(database: Database, opts: { now?: () => number } = {}) {
  const { db } = database
  const now = opts.now ?? Date.now

  async function withAttemptLog(rows: OutboxRow[]): Promise<Delivery[]> {
    if (rows.length === 0) return []
    const attempts = await db.select().from(deliveryAttempts)
      .where(inArray(deliveryAttempts.outboxId, rows.map((r) => r.id)))
      .orderBy(asc(deliveryAttempts.id))
    return rows.map((r) => ({ ...r, attemptLog: attempts.filter((a) => a.outboxId === r.id) }))
  }

  async function getDelivery(id: number): Promise<Delivery | undefined> {
    const [row] = await db.select().from(outbox).where(eq(outbox.id, id))
    return row && (await withAttemptLog([row]))[0]
  }

  return {
    /** Newest first. */
    async listDeliveries(filter: { status?: DeliveryStatus; subscriptionId?: string; ticketId?: string; limit?: number } = {}): Promise<Delivery[]> {
      const where: SQL[] = []
      if (filter.status) where.push(eq(outbox.status, filter.status))
      if (filter.subscriptionId) where.push(eq(outbox.subscriptionId, filter.subscriptionId))
      if (filter.ticketId) where.push(eq(outbox.ticketId, filter.ticketId))
      const rows = await db.select().from(outbox).where(and(...where))
        .orderBy(desc(outbox.id))
        .limit(Math.min(Math.max(filter.limit ?? 50, 1), 500))
      return withAttemptLog(rows)
    },

    getDelivery,

    /**
     * Sends a dead (or already delivered) message again, due now, with its attempts reset. It keeps
     * its message id: to the receiver it is the same message, and a duplicate it can recognise.
     */
    async replayDelivery(id: number): Promise<Delivery> {
      const [row] = await db.update(outbox)
        .set({ status: 'pending', attempts: 0, nextAttemptAt: new Date(now()), lockedUntil: null, lockedBy: null, lastError: null, deliveredAt: null })
        .where(and(eq(outbox.id, id), inArray(outbox.status, ['dead', 'delivered'])))
        .returning({ id: outbox.id })
      if (!row) {
        const existing = await getDelivery(id)
        if (!existing) throw new PrecallError('NOT_FOUND', `delivery ${id} not found`)
        throw new PrecallError('CONFLICT', `delivery ${id} is ${existing.status}; only dead or delivered messages can be replayed`)
      }
      return (await getDelivery(id))!
    },

    async pendingCount(): Promise<number> {
      const [row] = await db.select({ n: count() }).from(outbox).where(eq(outbox.status, 'pending'))
      return Number(row.n)
    },
  }
}

export type OutboxStore = ReturnType<typeof createOutboxStore>
