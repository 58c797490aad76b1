import { and, desc, eq, isNotNull } from 'drizzle-orm'
import type { Config } from '../config/load-config.js'
import type { Database, Tx } from '../db/database.js'
import { customers, ticketHistory, tickets } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { WebhookEvent } from '../outbox/subscription-store.js'
import { refusePatch, type TicketPatch, type TicketStatus } from './lifecycle.js'
import { escalationDueAt, ticketTransaction, type OutboxLink } from './ticket-change.js'
import { toTicketJson } from './ticket-json.js'

type TicketRow = typeof tickets.$inferSelect
const STATUS_STAMP = { acknowledged: 'acknowledgedAt', dispatched: 'dispatchedAt', resolved: 'resolvedAt', closed: 'closedAt' } as const

/**
 * The human side of a ticket, driven by the CRM: status along the lifecycle graph, external id,
 * technician and appointment, outcome, comments, SLA pause. Applying the same patch twice changes
 * nothing the second time: no history line, no version, no webhook.
 */
export function createTicketUpdater(opts: {
  database: Database
  metrics: Metrics
  policy: Config['tickets']
  now?: () => number
  /** A repair: resolved `fixed` or `replaced`. The rules behind the problem restart for the device. */
  onRepaired?: (deviceId: string, problem: string) => void
} & OutboxLink) {
  const { database, policy } = opts
  const now = opts.now ?? Date.now

  async function timeZoneOf(tx: Tx, customerId: string | null) {
    if (!customerId) return 'UTC'
    const [c] = await tx.select({ tz: customers.timezone }).from(customers).where(eq(customers.id, customerId))
    return c?.tz ?? 'UTC'
  }

  async function lastComment(tx: Tx, ticketId: string) {
    const [h] = await tx.select({ comment: ticketHistory.comment }).from(ticketHistory)
      .where(and(eq(ticketHistory.ticketId, ticketId), isNotNull(ticketHistory.comment))).orderBy(desc(ticketHistory.id)).limit(1)
    return h?.comment
  }

  async function diff(tx: Tx, row: TicketRow, patch: TicketPatch, at: Date) {
    const set: Partial<TicketRow> = {}
    const changes: Record<string, unknown> = {}
    const put = <K extends keyof TicketRow>(key: K, value: TicketRow[K], shown: unknown = value) => {
      set[key] = value
      changes[key] = shown
    }
    if (patch.externalId !== undefined && patch.externalId !== row.externalId) put('externalId', patch.externalId)
    if (patch.technician !== undefined && patch.technician !== row.technician) put('technician', patch.technician)
    if (patch.appointmentAt !== undefined && Date.parse(patch.appointmentAt) !== row.appointmentAt?.getTime()) {
      put('appointmentAt', new Date(patch.appointmentAt), new Date(patch.appointmentAt).toISOString())
    }
    if (patch.outcome !== undefined && patch.outcome !== row.outcome) put('outcome', patch.outcome)

    const to = patch.status && patch.status !== row.status ? patch.status : undefined
    const open = (to ?? row.status) !== 'resolved' && (to ?? row.status) !== 'closed'
    if (to) {
      put('status', to)
      // The first acknowledgement and dispatch count for KPIs; resolving and closing again restamp.
      const stamp = STATUS_STAMP[to as keyof typeof STATUS_STAMP]
      if (stamp && (row[stamp] === null || to === 'resolved' || to === 'closed')) set[stamp] = at
      if (to === 'reopened') set.outcome = null
    }
    let { slaPausedMs, slaPausedAt } = row
    if (patch.slaPaused === true && !slaPausedAt) {
      slaPausedAt = at
      put('slaPausedAt', at, true)
    } else if (patch.slaPaused === false && slaPausedAt) {
      slaPausedMs += at.getTime() - slaPausedAt.getTime()
      put('slaPausedMs', slaPausedMs, false)
      set.slaPausedAt = null
      set.slaDueAt = new Date(row.slaDueAt.getTime() + at.getTime() - slaPausedAt.getTime())
      slaPausedAt = null
    }
    // The escalation clock runs only while the ticket is open and not paused.
    if (to || 'slaPausedMs' in set || 'slaPausedAt' in set) {
      set.nextEscalationAt = open && !slaPausedAt
        ? escalationDueAt({ ...row, slaPausedMs }, row.escalationLevel + 1, policy, await timeZoneOf(tx, row.customerId))
        : null
    }
    const comment = patch.comment !== undefined && patch.comment !== (await lastComment(tx, row.id)) ? patch.comment : undefined
    return { set, changes, to, comment }
  }

  async function update(id: string, patch: TicketPatch, actor: string) {
    const at = new Date(now())
    const result = await ticketTransaction(database, opts, at, async (tx, record) => {
      const [row] = await tx.select().from(tickets).where(eq(tickets.id, id)).for('update')
      if (!row) throw new PrecallError('NOT_FOUND', `ticket ${id} does not exist`)
      const refusal = refusePatch(row.status as TicketStatus, patch, row)
      if (refusal) throw new PrecallError('TRANSITION', `ticket ${id}: ${refusal}`)
      const { set, changes, to, comment } = await diff(tx, row, patch, at)
      if (Object.keys(changes).length === 0 && comment === undefined) return { ticket: row, changed: false }
      const [updated] = await tx.update(tickets).set({ ...set, version: row.version + 1, updatedAt: at }).where(eq(tickets.id, id)).returning()
      const event: WebhookEvent = to === 'resolved' ? 'ticket.resolved' : to === 'reopened' ? 'ticket.reopened' : 'ticket.updated'
      // Goes out with COMMIT (see ticketTransaction).
      record({ ticket: updated, at, actor, action: to ? 'status' : 'updated', fromStatus: row.status, changes, comment, event })
      return { ticket: updated, changed: true }
    })
    if (result.changed) {
      opts.metrics.tickets.inc({ action: patch.status ?? 'updated' })
      const t = result.ticket
      if (t.status === 'resolved' && (t.outcome === 'fixed' || t.outcome === 'replaced') && t.deviceId) opts.onRepaired?.(t.deviceId, t.problem)
    }
    return { ticket: toTicketJson(result.ticket), changed: result.changed }
  }

  return { update }
}

export type TicketUpdater = ReturnType<typeof createTicketUpdater>
