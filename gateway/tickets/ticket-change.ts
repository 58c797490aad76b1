import type { Tx } from '../db/database.js'
import { ticketHistory, type tickets } from '../db/schema.js'
import { enqueueCustomerNotification } from '../notify/notification-outbox.js'
import { enqueueTicketEvent, type OutboxLease, type QueuedMessages } from '../outbox/outbox-store.js'
import type { WebhookEvent } from '../outbox/subscription-store.js'
import { toTicketJson } from './ticket-json.js'
import { addServiceTime, type Calendar } from './sla-clock.js'

type TicketRow = typeof tickets.$inferSelect

/**
 * Where the ticket code sends what a change queued: `lease` is the local dispatcher's (none while
 * it is stopped), and `onOutbox` runs after the commit with what the transaction queued under
 * that lease, or with nothing to mean "something was queued, go and look".
 */
export type OutboxLink = {
  outboxLease?: (at: Date) => OutboxLease | undefined
  onOutbox?: (queued?: QueuedMessages) => void
}

/**
 * Records one change of a ticket in its history and queues its CRM webhook and customer message,
 * in the caller's transaction: the change, its history line and its outbox rows commit together
 * or not at all. With `lease`, answers what it queued for `OutboxLink.onOutbox`.
 */
export async function recordTicketChange(tx: Tx, change: {
  ticket: TicketRow
  at: Date
  actor: string
  action: string
  fromStatus?: string | null
  changes?: Record<string, unknown>
  comment?: string | null
  event: WebhookEvent | null
}, lease?: OutboxLease): Promise<QueuedMessages | undefined> {
  // Issued together, so they share the round trips to the database (postgres.js pipelines them).
  const [, queued] = await Promise.all([
    tx.insert(ticketHistory).values({
      ticketId: change.ticket.id, at: change.at, actor: change.actor, action: change.action,
      fromStatus: change.fromStatus ?? null, toStatus: change.ticket.status, changes: change.changes ?? {}, comment: change.comment ?? null,
    }),
    change.event ? enqueueTicketEvent(tx, { type: change.event, ticket: toTicketJson(change.ticket) }, change.at, lease) : undefined,
    enqueueCustomerNotification(tx, { ticket: change.ticket, event: change.event, action: change.action, fromStatus: change.fromStatus ?? null, at: change.at }),
  ])
  return queued
}

/**
 * When warning level `level` (1-based) falls due: that fraction of the SLA in service time on the
 * calendar, shifted by time spent paused. Undefined past the last level.
 */
export function escalationDueAt(t: Pick<TicketRow, 'openedAt' | 'slaMs' | 'slaPausedMs'>, level: number, policy: { warnLevels: readonly number[]; calendar: Calendar }, timeZone: string): Date | null {
  const fraction = policy.warnLevels[level - 1]
  if (fraction === undefined) return null
  return new Date(addServiceTime(t.openedAt.getTime(), fraction * t.slaMs, policy.calendar, timeZone) + t.slaPausedMs)
}

/** When the SLA is breached: its full duration in service time, shifted by time spent paused. */
export function slaDueAt(t: Pick<TicketRow, 'openedAt' | 'slaMs' | 'slaPausedMs'>, policy: { calendar: Calendar }, timeZone: string): Date {
  return new Date(addServiceTime(t.openedAt.getTime(), t.slaMs, policy.calendar, timeZone) + t.slaPausedMs)
}
