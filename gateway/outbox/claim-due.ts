import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/database.js'
import { reusableQuery, valueOf } from '../db/reusable-query.js'
import { isoTime, sqlTimeOf } from '../db/sql-time.js'
import { outbox } from '../db/schema.js'
import type { OutboxRow } from './outbox-store.js'

/**
 * Leases up to `limit` due messages to `workerId` in one statement. SKIP LOCKED lets several
 * workers claim side by side; an expired lease makes a crashed worker's rows claimable again.
 * A message waits while an earlier one for the same ticket and subscription is still pending, so a
 * CRM never hears `ticket.updated` before `ticket.opened`; messages of a disabled subscription wait
 * too. At most one message per (subscription, ticket) is claimed per pass.
 */
export async function claimDue(db: Db, opts: { now: number; leaseMs: number; workerId: string; limit: number }): Promise<OutboxRow[]> {
  return claim(db, { now: isoTime(opts.now), lockedUntil: new Date(opts.now + opts.leaseMs), workerId: opts.workerId, limit: opts.limit })
}

// Every dispatcher pass runs it, and every ticket change wakes one: built once (see reusableQuery).
const claim = reusableQuery((db) => db.update(outbox)
  .set({ lockedUntil: valueOf<Date>('lockedUntil'), lockedBy: valueOf<string>('workerId') })
  .where(sql`${outbox.id} in (
    select o.id from outbox o
    where o.status = 'pending'
      and o.next_attempt_at <= ${sqlTimeOf('now')}
      and (o.locked_until is null or o.locked_until < ${sqlTimeOf('now')})
      and exists (select 1 from webhook_subscriptions s where s.id = o.subscription_id and s.enabled)
      and not exists (
        select 1 from outbox p
        where p.status = 'pending' and p.subscription_id = o.subscription_id and p.ticket_id = o.ticket_id and p.id < o.id
      )
    order by o.id
    limit ${sql.placeholder('limit')}
    for update of o skip locked
  )`)
  .returning())

/**
 * Extends a lease just before a message is sent, so a long pass cannot outlive the lease of the
 * rows it claimed at the start. False when the row is no longer this worker's to send (re-leased
 * after expiry, or cancelled because its subscription went away).
 */
export async function renewLease(db: Db, opts: { id: number; now: number; leaseMs: number; workerId: string }): Promise<boolean> {
  const rows = await renew(db, { id: opts.id, lockedUntil: new Date(opts.now + opts.leaseMs), workerId: opts.workerId })
  return rows.length === 1
}

const renew = reusableQuery((db) => db.update(outbox)
  .set({ lockedUntil: valueOf<Date>('lockedUntil') })
  .where(and(eq(outbox.id, sql.placeholder('id')), eq(outbox.status, 'pending'), eq(outbox.lockedBy, sql.placeholder('workerId'))))
  .returning({ id: outbox.id }))
