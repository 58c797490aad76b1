import { and, asc, count, desc, eq, inArray, sql, type SQL } from 'drizzle-orm'
import type { Database, Db, Tx } from '../db/database.js'
import { newId } from '../db/ids.js'
import { reusableQuery } from '../db/reusable-query.js'
import { isoTime, sqlTimeOf } from '../db/sql-time.js'
import { deliveryAttempts, outbox, webhookSubscriptions } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import type { WebhookEvent } from './subscription-store.js'

export type OutboxRow = typeof outbox.$inferSelect
export type DeliveryAttempt = typeof deliveryAttempts.$inferSelect
/** An outbox row with its attempt log, oldest attempt first. */
export type Delivery = OutboxRow & { attemptLog: DeliveryAttempt[] }
export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'cancelled'

/** The local dispatcher, to which a transaction may lease the messages it queues (see `enqueueTicketEvent`). */
export type OutboxLease = { workerId: string; until: Date }

/** What one ticket change queued, and with a lease the enabled subscriptions, read in the same transaction. */
export type QueuedMessages = { rows: OutboxRow[]; subscriptions: (typeof webhookSubscriptions.$inferSelect)[] }

/**
 * Queues one message per enabled subscription that wants `type`, inside the caller's transaction:
 * the ticket change and the promise to announce it commit together or not at all. The message id
 * is minted here, once, and is the `webhook-id` of every attempt so receivers can de-duplicate.
 * One statement (the subscriptions are chosen in SQL), so it costs the ticket's transaction one
 * round trip: on a busy gateway every round trip waits a turn of the event loop.
 *
 * With `lease`, a message that no earlier pending one of its ticket and subscription has to wait
 * for is queued already leased to that worker, and the subscriptions come back alongside (issued
 * together, no extra round trip): once the transaction commits, the worker sends it at once
 * rather than waking and claiming it first (`OutboxDispatcher.handOff`). The ticket's row lock,
 * held by every transaction that changes it, keeps two of its messages from both looking first.
 * A transaction that queues several reads the subscriptions with the first only
 * (`readSubscriptions` false for the others): they come back empty there.
 */
export async function enqueueTicketEvent(
  tx: Tx | Db, event: { type: WebhookEvent; ticket: { id: string; [field: string]: unknown } }, now: Date, lease?: OutboxLease,
  readSubscriptions = true,
): Promise<QueuedMessages> {
  const payload = { type: event.type, timestamp: now.toISOString(), data: { ticket: event.ticket } }
  const queued = queue(tx, {
    // `newId`'s prefix and time, then 16 random hex digits (a subset of its alphabet) per subscription.
    idPrefix: newId('msg', now.getTime()).slice(0, 'msg_'.length + 10),
    type: event.type, types: JSON.stringify([event.type]), ticketId: event.ticket.id, payload: JSON.stringify(payload), at: isoTime(now),
    leased: lease !== undefined, until: lease ? isoTime(lease.until) : null, workerId: lease?.workerId ?? null,
  })
  if (!lease || !readSubscriptions) return { rows: await queued, subscriptions: [] }
  const [rows, subscriptions] = await Promise.all([queued, selectEnabledSubscriptions(tx, {})])
  return { rows, subscriptions }
}

// Every ticket change queues its messages: built once (see reusableQuery). Every column of the table
// in order, as drizzle's insert … select over raw SQL requires. A message is leased when asked and
// no earlier pending one of its ticket and subscription has to go first.
const queue = reusableQuery((db) => db.insert(outbox).select(sql`
  select nextval(pg_get_serial_sequence('outbox', 'id')), ${sql.placeholder('idPrefix')}::text || substr(md5(gen_random_uuid()::text), 1, 16), s.id,
    ${sql.placeholder('type')}::text, ${sql.placeholder('ticketId')}::text, ${sql.placeholder('payload')}::jsonb, 'pending', 0, ${sqlTimeOf('at')},
    case when l.first then ${sqlTimeOf('until')} end, case when l.first then ${sql.placeholder('workerId')}::text end,
    null, ${sqlTimeOf('at')}, null
  from webhook_subscriptions s
  cross join lateral (select ${sql.placeholder('leased')}::boolean and not exists (
    select 1 from outbox p where p.status = 'pending' and p.subscription_id = s.id and p.ticket_id = ${sql.placeholder('ticketId')}::text
  ) as first) l
  where s.enabled and (s.events @> ${sql.placeholder('types')}::jsonb or s.events @> '["*"]'::jsonb)`).returning())

// Every leased ticket event and every dispatcher pass reads them (see reusableQuery).
export const selectEnabledSubscriptions = reusableQuery((db) => db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.enabled, true)))

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
