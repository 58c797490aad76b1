import { and, asc, eq, inArray, isNull, lte, notInArray, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import { customers, tickets } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { createPeriodicPass } from '../periodic-pass.js'
import { escalationDueAt, ticketTransaction, type OutboxLink } from './ticket-change.js'

const BATCH = 100

/**
 * The SLA's clock without data: raises each warning level as it falls due and closes tickets left
 * resolved past the auto-close time. Durable by construction: the level and the next due time are
 * stored with the ticket and change in the same transaction as the `ticket.escalated` outbox row,
 * so a restart neither skips nor repeats a level, and rows are claimed with SKIP LOCKED so several
 * instances share the work.
 */
export function createTicketScheduler(opts: { database: Database; metrics: Metrics; policy: Config['tickets']; log: Logger; now?: () => number } & OutboxLink) {
  const { database, policy, log } = opts
  const now = opts.now ?? Date.now

  async function escalateDue(at: Date): Promise<number> {
    return ticketTransaction(database, opts, at, async (tx, record) => {
      const due = await tx.select({ t: tickets, tz: customers.timezone }).from(tickets)
        .leftJoin(customers, eq(customers.id, tickets.customerId))
        .where(and(lte(tickets.nextEscalationAt, at), notInArray(tickets.status, ['resolved', 'closed']), isNull(tickets.slaPausedAt)))
        .orderBy(asc(tickets.nextEscalationAt)).limit(BATCH).for('update', { of: tickets, skipLocked: true })
      for (const { t, tz } of due) {
        // A gateway that was down across several levels raises each of them, in order.
        let row = t
        while (row.nextEscalationAt && row.nextEscalationAt <= at) {
          const level = row.escalationLevel + 1
          const [next] = await tx.update(tickets).set({
            escalationLevel: level, nextEscalationAt: escalationDueAt(row, level + 1, policy, tz ?? 'UTC'), version: row.version + 1, updatedAt: at,
          }).where(eq(tickets.id, row.id)).returning()
          // Not waited for: each change's writes travel with the next update, the last with COMMIT.
          record({ ticket: next, at, actor: 'gateway', action: 'escalated', fromStatus: row.status, changes: { escalationLevel: level, levelDueAt: row.nextEscalationAt.toISOString() }, event: 'ticket.escalated' })
          opts.metrics.tickets.inc({ action: `escalated_${level}` })
          row = next
        }
      }
      return due.length
    })
  }

  async function closeResolved(at: Date): Promise<number> {
    return ticketTransaction(database, opts, at, async (tx, record) => {
      const stale = await tx.select().from(tickets)
        .where(and(eq(tickets.status, 'resolved'), lte(tickets.resolvedAt, new Date(at.getTime() - policy.autoCloseMs))))
        .limit(BATCH).for('update', { skipLocked: true })
      if (stale.length === 0) return 0
      const closed = await tx.update(tickets).set({ status: 'closed', closedAt: at, updatedAt: at, version: sql`${tickets.version} + 1` })
        .where(inArray(tickets.id, stale.map((t) => t.id))).returning()
      // Issued together and sent with COMMIT: a few round trips for the whole pass, not one a ticket.
      for (const t of closed) record({ ticket: t, at, actor: 'gateway', action: 'auto_closed', fromStatus: 'resolved', event: 'ticket.updated' })
      return closed.length
    })
  }

  /** One pass; tests call it with their own clock. Returns the number of tickets changed. */
  async function runOnce(): Promise<number> {
    const at = new Date(now())
    let changed = 0
    for (let n = BATCH; n === BATCH;) { n = await escalateDue(at); changed += n }
    for (let n = BATCH; n === BATCH;) { n = await closeResolved(at); changed += n }
    return changed
  }

  const periodic = createPeriodicPass(runOnce, policy.schedulerPollMs, (err) => log.error({ err }, 'ticket scheduler pass failed'))
  return { runOnce, start: periodic.start, stop: periodic.stop }
}

export type TicketScheduler = ReturnType<typeof createTicketScheduler>
