import { and, eq, inArray, lte, sql } from 'drizzle-orm'
import type { Clearance, Detection } from '../../rules/detection.js'
import type { Config } from '../config/load-config.js'
import type { Database, Tx } from '../db/database.js'
import { newId } from '../db/ids.js'
import { reusableQuery, valueOf } from '../db/reusable-query.js'
import { detections, tickets } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { escalationDueAt, slaDueAt, ticketTransaction, type OutboxLink } from './ticket-change.js'
import { toTicketJson, type TicketJson } from './ticket-json.js'
import { SELF_CLEARED } from './lifecycle.js'
import { ticketTerms } from './ticket-policy.js'
import { recordDetection } from './record-detection.js'

export type DetectionOutcome = { action: 'opened' | 'updated' | 'reopened'; ticket: TicketJson; repeatOf: string | null } | { action: 'shadow' | 'duplicate' }
export type Customer = { customerId: string | null; customerTags: readonly string[]; customerTimezone: string }

/**
 * Turns detections into tickets. The partial unique index `tickets_one_open` — not this code —
 * guarantees one open ticket per (device, problem); the upsert names it as its conflict target.
 * A problem that comes back while its ticket is resolved reopens it; after it was closed, within
 * the repeat window, it opens a new ticket marked `repeatOf` the earlier one: the second call.
 */
export function createDetectionIntake(opts: { database: Database; metrics: Metrics; policy: Config['tickets']; now?: () => number } & OutboxLink) {
  const { database, metrics, policy } = opts
  const now = opts.now ?? Date.now

  const linkDetection = (tx: Tx, detectionId: number, ticketId: string) => updateDetectionTicket(tx, { detectionId, ticketId })

  async function record(d: Detection, customer: Customer): Promise<DetectionOutcome> {
    const at = new Date(now())
    const detectedAt = new Date(d.detectedAt)
    // The statement decides whether the ticket repeats an earlier one; a repeat changes only its
    // priority, so the SLA's due dates are worked out once.
    const termsOf = (repeat: boolean) => ticketTerms({ severity: d.severity, type: d.ticketType, customerTags: customer.customerTags, repeat, slaMs: policy.slaMs, tagPolicy: policy.tagPolicy })
    const { priority, slaMs } = termsOf(false)
    const opening = { openedAt: at, slaMs, slaPausedMs: 0 }
    const outcome = await ticketTransaction(database, opts, at, async (tx, record, alongside): Promise<DetectionOutcome> => {
      // One statement logs the detection (a replay after a restart or rule change re-detects what
      // was handled: it stops here) and opens or updates the ticket where that is what follows.
      const fresh = {
        lastDetectedAt: detectedAt, evidence: d.evidence, ruleVersion: d.ruleVersion, updatedAt: at,
        predictedFailureAt: predictedFailureOf(d) ?? null,
      }
      const recorded = await recordDetection(tx, {
        ruleId: d.ruleId, ruleVersion: d.ruleVersion, mode: d.mode, deviceId: d.deviceId, problem: d.problem, detectedAt, evidence: d.evidence,
        repeatSince: new Date(at.getTime() - policy.repeatWindowMs),
        ticket: {
          id: newId('tkt', at.getTime()), deviceId: d.deviceId, customerId: customer.customerId, problem: d.problem, type: d.ticketType,
          title: d.title, severity: d.severity, priority, detectedAt, ruleId: d.ruleId, notifyCustomer: d.notifyCustomer, ...opening, ...fresh,
          slaDueAt: slaDueAt(opening, policy, customer.customerTimezone),
          nextEscalationAt: escalationDueAt(opening, 1, policy, customer.customerTimezone),
        },
        repeatPriority: termsOf(true).priority,
      })
      const logged = recorded.loggedId
      if (logged === null) return { action: 'duplicate' }
      if (d.mode !== 'active') return { action: 'shadow' }

      const row = recorded.ticket
      if (row) {
        const action = row.version === 1 ? 'opened' : 'updated'
        const repeatOf = action === 'opened' ? row.repeatOf : null
        // The last writes go out with COMMIT (see ticketTransaction).
        alongside(linkDetection(tx, logged, row.id))
        record({
          ticket: row, at, actor: 'gateway', action: action === 'opened' ? 'opened' : 'detected',
          changes: { detectedAt: detectedAt.toISOString(), ruleId: d.ruleId, ruleVersion: d.ruleVersion, ...(repeatOf ? { repeatOf } : {}) },
          event: action === 'opened' ? 'ticket.opened' : 'ticket.updated',
        })
        return { action, ticket: toTicketJson(row), repeatOf }
      }
      const last = recorded.last!
      if (last.status === 'resolved') {
        const [reopened] = await tx.update(tickets).set({
          ...fresh, status: 'reopened', occurrences: sql`${tickets.occurrences} + 1`, version: sql`${tickets.version} + 1`, outcome: null,
        }).where(eq(tickets.id, last.id)).returning()
        alongside(linkDetection(tx, logged, reopened.id))
        record({ ticket: reopened, at, actor: 'gateway', action: 'reopened', fromStatus: 'resolved', changes: { detectedAt: detectedAt.toISOString() }, event: 'ticket.reopened' })
        return { action: 'reopened', ticket: toTicketJson(reopened), repeatOf: null }
      }
      // The open ticket already holds a detection as new as this one (a replay after a restart or
      // rule change).
      alongside(linkDetection(tx, logged, last.id))
      return { action: 'duplicate' }
    })
    metrics.detections.inc({ mode: d.mode })
    if (outcome.action === 'opened' || outcome.action === 'updated' || outcome.action === 'reopened') {
      metrics.tickets.inc({ action: outcome.action })
      if (outcome.repeatOf) metrics.tickets.inc({ action: 'repeat' })
    }
    return outcome
  }

  /**
   * The problem behind an open ticket cleared (the rule's clear condition held for its time). A
   * ticket nobody has dispatched yet resolves itself with outcome `self_cleared`; a technician on
   * the way, or a later detection than the clearance, keeps it open.
   */
  async function clear(c: Clearance): Promise<TicketJson | undefined> {
    const at = new Date(now())
    const resolved = await ticketTransaction(database, opts, at, async (tx, record) => {
      const [row] = await tx.update(tickets)
        .set({ status: 'resolved', outcome: SELF_CLEARED, resolvedAt: at, nextEscalationAt: null, updatedAt: at, version: sql`${tickets.version} + 1` })
        .where(and(
          eq(tickets.deviceId, c.deviceId), eq(tickets.problem, c.problem), eq(tickets.ruleId, c.ruleId),
          inArray(tickets.status, ['open', 'acknowledged', 'reopened']), lte(tickets.lastDetectedAt, new Date(c.clearedAt)),
        ))
        .returning()
      if (!row) return undefined
      record({ ticket: row, at, actor: 'gateway', action: 'self_cleared', changes: { clearedAt: new Date(c.clearedAt).toISOString(), ruleVersion: c.ruleVersion }, event: 'ticket.resolved' })
      return row
    })
    if (!resolved) return undefined
    metrics.tickets.inc({ action: 'self_cleared' })
    return toTicketJson(resolved)
  }

  return { record, clear }
}

export type DetectionIntake = ReturnType<typeof createDetectionIntake>

// Built once (see reusableQuery).
const updateDetectionTicket = reusableQuery((db) => db.update(detections)
  .set({ ticketId: valueOf<string>('ticketId') }).where(eq(detections.id, sql.placeholder('detectionId'))))

// Trend rules (predicted failures) carry the moment the fitted line reaches the limit.
function predictedFailureOf(d: Detection): Date | undefined {
  return d.predictedFailureAt === undefined ? undefined : new Date(d.predictedFailureAt)
}
