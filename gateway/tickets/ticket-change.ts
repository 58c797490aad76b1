import { sql } from 'drizzle-orm'
import type { Database, Tx } from '../db/database.js'
import { reusableQuery } from '../db/reusable-query.js'
import { ticketHistory, type tickets } from '../db/schema.js'
import { enqueueCustomerNotification } from '../notify/notification-outbox.js'
import { enqueueTicketEvent, type OutboxLease, type QueuedMessages } from '../outbox/outbox-store.js'
import type { WebhookEvent } from '../outbox/subscription-store.js'
import { toTicketJson } from './ticket-json.js'
import { addServiceTime, type Calendar } from './sla-clock.js'

type TicketRow = typeof tickets.$inferSelect

/**
 * Where a ticket transaction's outbox rows go once it commits: `outboxLease` is the local
 * dispatcher's lease for messages queued at a time (none while it is stopped), `onOutbox` gets
 * what the transaction queued (see `OutboxDispatcher.handOff`) and wakes whoever delivers it.
 */
export type OutboxLink = {
  outboxLease?: (at: Date) => OutboxLease | undefined
  onOutbox?: (queued: QueuedMessages) => void
}

export type TicketChange = {
  ticket: TicketRow
  at: Date
  actor: string
  action: string
  fromStatus?: string | null
  changes?: Record<string, unknown>
  comment?: string | null
  event: WebhookEvent | null
}

/**
 * A transaction that changes tickets. Each change given to `record` goes into the ticket's history
 * and queues its CRM webhook and customer message in the same transaction: the change, its history
 * line and its outbox rows commit together or not at all. Once it commits, if anything was
 * recorded, what was queued goes to `link.onOutbox`: leased to the local dispatcher, a webhook
 * leaves straight away instead of waiting for a pass to claim it.
 */
export async function ticketTransaction<T>(
  database: Database, link: OutboxLink, at: Date,
  fn: (tx: Tx, record: (change: TicketChange) => Promise<void>) => Promise<T>,
): Promise<T> {
  const lease = link.outboxLease?.(at)
  const queued: QueuedMessages = { rows: [], subscriptions: [] }
  let recorded = false
  const result = await database.db.transaction((tx) => fn(tx, async (change) => {
    recorded = true
    const q = await recordTicketChange(tx, change, lease)
    if (q) {
      queued.rows.push(...q.rows)
      queued.subscriptions = q.subscriptions
    }
  }))
  if (recorded) link.onOutbox?.(queued)
  return result
}

async function recordTicketChange(tx: Tx, change: TicketChange, lease: OutboxLease | undefined): Promise<QueuedMessages | undefined> {
  // Issued together, so they share the round trips to the database (postgres.js pipelines them).
  const [, queued] = await Promise.all([
    insertHistory(tx, {
      ticketId: change.ticket.id, at: change.at, actor: change.actor, action: change.action,
      fromStatus: change.fromStatus ?? null, toStatus: change.ticket.status, changes: change.changes ?? {}, comment: change.comment ?? null,
    }),
    change.event ? enqueueTicketEvent(tx, { type: change.event, ticket: toTicketJson(change.ticket) }, change.at, lease) : undefined,
    enqueueCustomerNotification(tx, { ticket: change.ticket, event: change.event, action: change.action, fromStatus: change.fromStatus ?? null, at: change.at }),
  ])
  return queued
}

// Every ticket change writes one (see reusableQuery).
const insertHistory = reusableQuery((db) => db.insert(ticketHistory).values({
  ticketId: sql.placeholder('ticketId'), at: sql.placeholder('at'), actor: sql.placeholder('actor'), action: sql.placeholder('action'),
  fromStatus: sql.placeholder('fromStatus'), toStatus: sql.placeholder('toStatus'), changes: sql.placeholder('changes'), comment: sql.placeholder('comment'),
}))

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
