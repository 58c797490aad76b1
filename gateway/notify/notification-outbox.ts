import { sql } from 'drizzle-orm'
import type { Tx } from '../db/database.js'
import { reusableQuery } from '../db/reusable-query.js'
import { newId } from '../db/ids.js'
import { notifications } from '../db/notify-schema.js'
import type { tickets } from '../db/schema.js'
import type { WebhookEvent } from '../outbox/subscription-store.js'
import { toTicketJson } from '../tickets/ticket-json.js'
import type { NotificationKind } from './default-templates.js'

type TicketRow = typeof tickets.$inferSelect

export type TicketChange = {
  /** The ticket row after the change. */
  ticket: TicketRow
  event: WebhookEvent | null
  /** The history action: opened, detected, status, updated, escalated, reopened, auto_closed, contact. */
  action: string
  fromStatus?: string | null
  at: Date
}

/**
 * Whether a ticket change is something the customer should hear about, and under which key. The
 * key names the state change, not the attempt: the same change recorded twice gets the same key.
 * - opened / reopened: only for rules that ask to notify the customer (`notifyCustomer`);
 * - appointment: dispatched with a technician or a time, once per appointment time;
 * - escalated: when the last warning level is passed (the SLA promise is broken), once per level;
 * - resolved: once per resolution.
 * Escalations and resolutions go to customers who know about the ticket: told by us, who called
 * us (a complaint), or who had a technician dispatched. A self-cleared fault they never heard of
 * stays silent.
 */
export function notificationDue(change: Omit<TicketChange, 'at'>): { kind: NotificationKind; dedupKey: string; urgent: boolean } | null {
  const t = change.ticket
  if (!t.customerId) return null
  const critical = t.severity === 'critical'
  const knows = t.notifyCustomer || t.source === 'contact' || t.dispatchedAt !== null
  const due = (kind: NotificationKind, discriminator: string, urgent = false) => ({ kind, dedupKey: `${t.id}:${kind}${discriminator}`, urgent })

  if (change.event === 'ticket.opened' && change.action === 'opened') return t.notifyCustomer ? due('opened', '', critical) : null
  if (change.event === 'ticket.reopened') return t.notifyCustomer ? due('reopened', `:v${t.version}`, critical) : null
  if (change.event === 'ticket.resolved') return knows ? due('resolved', `:${t.resolvedAt?.getTime() ?? `v${t.version}`}`) : null
  if (change.event === 'ticket.escalated') return knows && t.nextEscalationAt === null ? due('escalated', `:${t.escalationLevel}`) : null
  if ((change.action === 'status' || change.action === 'updated') && t.status === 'dispatched' && (t.appointmentAt || t.technician)) {
    return due('appointment', `:${t.appointmentAt?.toISOString() ?? 'unscheduled'}`, critical)
  }
  return null
}

/**
 * Queues the customer's message about a ticket change, in the ticket's transaction: the change and
 * the promise to tell the customer commit together. The unique `dedup_key` makes a second insert of
 * the same change a no-op, whoever tries it. Which channel, when and whether at all (consent, quiet
 * hours, caps) is decided when it is sent, and recorded on the row.
 */
export async function enqueueCustomerNotification(tx: Tx, change: TicketChange): Promise<boolean> {
  const due = notificationDue(change)
  if (!due) return false
  const rows = await insertNotification(tx, {
    messageId: newId('ntf', change.at.getTime()),
    dedupKey: due.dedupKey,
    customerId: change.ticket.customerId!,
    ticketId: change.ticket.id,
    kind: due.kind,
    urgent: due.urgent,
    payload: toTicketJson(change.ticket),
    at: change.at,
  })
  return rows.length === 1
}

// Most ticket changes queue one (see reusableQuery).
const insertNotification = reusableQuery((db) => db.insert(notifications).values({
  messageId: sql.placeholder('messageId'), dedupKey: sql.placeholder('dedupKey'), customerId: sql.placeholder('customerId'),
  ticketId: sql.placeholder('ticketId'), kind: sql.placeholder('kind'), urgent: sql.placeholder('urgent'), payload: sql.placeholder('payload'),
  nextAttemptAt: sql.placeholder('at'), createdAt: sql.placeholder('at'), updatedAt: sql.placeholder('at'),
}).onConflictDoNothing({ target: notifications.dedupKey }).returning({ id: notifications.id }))
