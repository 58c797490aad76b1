import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Db, Tx } from '../db/database.js'
import { reusableQuery, valueOf } from '../db/reusable-query.js'
import { isoTime, sqlTimeOf } from '../db/sql-time.js'
import { notifications } from '../db/notify-schema.js'

export type NotificationRow = typeof notifications.$inferSelect
export const PENDING = ['queued', 'deferred'] as const


/**
 * Leases up to `limit` due messages to `workerId` (SKIP LOCKED, so workers claim side by side; an
 * expired lease lets another worker take over a crashed one's rows). Only a customer's oldest due
 * message is claimable, so one customer's messages go one after another: the daily cap counts
 * them in order, and a customer never gets the resolution before the problem.
 */
export async function claimNotifications(db: Db, opts: { now: number; leaseMs: number; workerId: string; limit: number }): Promise<NotificationRow[]> {
  return claim(db, { now: isoTime(opts.now), lockedUntil: new Date(opts.now + opts.leaseMs), workerId: opts.workerId, limit: opts.limit })
}

// Every notifier pass runs it, and every ticket change wakes one: built once (see reusableQuery).
const claim = reusableQuery((db) => db.update(notifications)
  .set({ lockedUntil: valueOf<Date>('lockedUntil'), lockedBy: valueOf<string>('workerId') })
  .where(sql`${notifications.id} in (
    select n.id from notifications n
    where n.status in ('queued', 'deferred')
      and n.next_attempt_at <= ${sqlTimeOf('now')}
      and (n.locked_until is null or n.locked_until < ${sqlTimeOf('now')})
      and not exists (
        select 1 from notifications p
        where p.customer_id = n.customer_id and p.status in ('queued', 'deferred') and p.next_attempt_at <= ${sqlTimeOf('now')} and p.id < n.id
      )
    order by n.id
    limit ${sql.placeholder('limit')}
    for update of n skip locked
  )`)
  .returning())

/** Extends this worker's lease before another slow try; false when the row is no longer this worker's. */
export async function renewNotificationLease(db: Db, opts: { id: number; now: number; leaseMs: number; workerId: string }): Promise<boolean> {
  const rows = await db.update(notifications)
    .set({ lockedUntil: new Date(opts.now + opts.leaseMs) })
    .where(and(eq(notifications.id, opts.id), inArray(notifications.status, PENDING), eq(notifications.lockedBy, opts.workerId)))
    .returning({ id: notifications.id })
  return rows.length === 1
}

/**
 * Moves a leased message on and releases it, only while this worker still holds it: a worker that
 * lost its lease (it stalled past it, another took over) changes nothing.
 */
export async function settleNotification(db: Db | Tx, row: { id: number }, workerId: string, set: Partial<typeof notifications.$inferInsert>): Promise<boolean> {
  const rows = await db.update(notifications)
    .set({ lockedUntil: null, lockedBy: null, ...set })
    .where(and(eq(notifications.id, row.id), inArray(notifications.status, PENDING), eq(notifications.lockedBy, workerId)))
    .returning({ id: notifications.id })
  return rows.length === 1
}
