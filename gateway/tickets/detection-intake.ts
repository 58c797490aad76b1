import { and, desc, eq, inArray, lte, sql } from 'drizzle-orm'
import type { Clearance, Detection } from '../../rules/detection.js'
import type { Config } from '../config/load-config.js'
import type { Database, Tx } from '../db/database.js'
import { newId } from '../db/ids.js'
import { reusableQuery, valueOf } from '../db/reusable-query.js'
import { OPEN_TICKET, detections, tickets } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { escalationDueAt, slaDueAt, ticketTransaction, type OutboxLink } from './ticket-change.js'
import { toTicketJson, type TicketJson } from './ticket-json.js'
import { SELF_CLEARED } from './lifecycle.js'
import { ticketTerms } from './ticket-policy.js'

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

  async function previousTicket(tx: Tx, d: Detection) {
    const [last] = await selectPreviousTicket(tx, { deviceId: d.deviceId, problem: d.problem })
    return last
  }

  const linkDetection = (tx: Tx, detectionId: number, ticketId: string) => updateDetectionTicket(tx, { detectionId, ticketId })

  async function record(d: Detection, customer: Customer): Promise<DetectionOutcome> {
    const at = new Date(now())
    const detectedAt = new Date(d.detectedAt)
    const outcome = await ticketTransaction(database, opts, at, async (tx, record, alongside): Promise<DetectionOutcome> => {
      // Rebuilding rule state after a restart replays detections already handled: they stop here.
      // The previous ticket is read (and locked) alongside, in the same round trip, though only an
      // active detection logged for the first time goes on to use it.
      const [[logged], last] = await Promise.all([
        insertDetection(tx, { ruleId: d.ruleId, ruleVersion: d.ruleVersion, mode: d.mode, deviceId: d.deviceId, problem: d.problem, detectedAt, evidence: d.evidence }),
        previousTicket(tx, d),
      ])
      if (!logged) return { action: 'duplicate' }
      if (d.mode !== 'active') return { action: 'shadow' }

      // A replay after a restart or rule change may re-detect what the open ticket already holds.
      if (last && last.status !== 'resolved' && last.status !== 'closed' && last.lastDetectedAt >= detectedAt) {
        alongside(linkDetection(tx, logged.id, last.id))
        return { action: 'duplicate' }
      }
      const fresh = {
        lastDetectedAt: detectedAt, evidence: d.evidence, ruleVersion: d.ruleVersion, updatedAt: at,
        predictedFailureAt: predictedFailureOf(d),
      }
      if (last?.status === 'resolved') {
        const [row] = await tx.update(tickets).set({
          ...fresh, status: 'reopened', occurrences: sql`${tickets.occurrences} + 1`, version: sql`${tickets.version} + 1`, outcome: null,
        }).where(eq(tickets.id, last.id)).returning()
        // The last writes go out with COMMIT (see ticketTransaction).
        alongside(linkDetection(tx, logged.id, row.id))
        record({ ticket: row, at, actor: 'gateway', action: 'reopened', fromStatus: 'resolved', changes: { detectedAt: detectedAt.toISOString() }, event: 'ticket.reopened' })
        return { action: 'reopened', ticket: toTicketJson(row), repeatOf: null }
      }
      const repeatOf = last?.status === 'closed' && last.resolvedAt && at.getTime() - last.resolvedAt.getTime() <= policy.repeatWindowMs ? last.id : null
      const terms = ticketTerms({ severity: d.severity, type: d.ticketType, customerTags: customer.customerTags, repeat: repeatOf !== null, slaMs: policy.slaMs, tagPolicy: policy.tagPolicy })
      const opening = { openedAt: at, slaMs: terms.slaMs, slaPausedMs: 0 }
      const [row] = await upsertOpenTicket(tx, {
        id: newId('tkt', at.getTime()), deviceId: d.deviceId, customerId: customer.customerId, problem: d.problem, type: d.ticketType,
        title: d.title, severity: d.severity, priority: terms.priority, detectedAt, ruleId: d.ruleId, repeatOf, notifyCustomer: d.notifyCustomer,
        ...opening, ...fresh, predictedFailureAt: fresh.predictedFailureAt ?? null,
        slaDueAt: slaDueAt(opening, policy, customer.customerTimezone),
        nextEscalationAt: escalationDueAt(opening, 1, policy, customer.customerTimezone),
      })
      const action = row.version === 1 ? 'opened' : 'updated'
      // The last writes go out with COMMIT (see ticketTransaction).
      alongside(linkDetection(tx, logged.id, row.id))
      record({
        ticket: row, at, actor: 'gateway', action: action === 'opened' ? 'opened' : 'detected',
        changes: { detectedAt: detectedAt.toISOString(), ruleId: d.ruleId, ruleVersion: d.ruleVersion, ...(repeatOf ? { repeatOf } : {}) },
        event: action === 'opened' ? 'ticket.opened' : 'ticket.updated',
      })
      return { action, ticket: toTicketJson(row), repeatOf: action === 'opened' ? repeatOf : null }
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

// Every detection runs these: built once (see reusableQuery). Built anew each time, they were most
// of what a fault cost the gateway's thread (`npm run bench:turns`, CPU a fault).
const insertDetection = reusableQuery((db) => db.insert(detections).values({
  ruleId: sql.placeholder('ruleId'), ruleVersion: sql.placeholder('ruleVersion'), mode: sql.placeholder('mode'), deviceId: sql.placeholder('deviceId'),
  problem: sql.placeholder('problem'), detectedAt: sql.placeholder('detectedAt'), evidence: sql.placeholder('evidence'),
}).onConflictDoNothing().returning({ id: detections.id }))

const selectPreviousTicket = reusableQuery((db) => db.select().from(tickets)
  .where(and(eq(tickets.deviceId, sql.placeholder('deviceId')), eq(tickets.problem, sql.placeholder('problem'))))
  .orderBy(desc(tickets.openedAt)).limit(1).for('update'))

const updateDetectionTicket = reusableQuery((db) => db.update(detections)
  .set({ ticketId: valueOf<string>('ticketId') }).where(eq(detections.id, sql.placeholder('detectionId'))))

const newer = sql`excluded.last_detected_at >= ${tickets.lastDetectedAt}`
const TICKET_VALUES = [
  'id', 'deviceId', 'customerId', 'problem', 'type', 'title', 'severity', 'priority', 'detectedAt', 'ruleId', 'repeatOf', 'notifyCustomer',
  'openedAt', 'slaMs', 'slaPausedMs', 'lastDetectedAt', 'evidence', 'ruleVersion', 'updatedAt', 'predictedFailureAt', 'slaDueAt', 'nextEscalationAt',
] as const satisfies readonly (keyof typeof tickets.$inferInsert)[]

const upsertOpenTicket = reusableQuery((db) => db.insert(tickets)
  .values(Object.fromEntries(TICKET_VALUES.map((k) => [k, sql.placeholder(k)])) as unknown as typeof tickets.$inferInsert)
  .onConflictDoUpdate({
    target: [tickets.deviceId, tickets.problem],
    targetWhere: OPEN_TICKET,
    set: {
      occurrences: sql`${tickets.occurrences} + 1`,
      lastDetectedAt: sql`greatest(${tickets.lastDetectedAt}, excluded.last_detected_at)`,
      // A detection that arrives out of order counts, but the newest evidence stays on top.
      evidence: sql`case when ${newer} then excluded.evidence else ${tickets.evidence} end`,
      ruleVersion: sql`case when ${newer} then excluded.rule_version else ${tickets.ruleVersion} end`,
      predictedFailureAt: sql`case when ${newer} then coalesce(excluded.predicted_failure_at, ${tickets.predictedFailureAt}) else ${tickets.predictedFailureAt} end`,
      severity: sql`case when excluded.priority < ${tickets.priority} then excluded.severity else ${tickets.severity} end`,
      priority: sql`least(${tickets.priority}, excluded.priority)`,
      version: sql`${tickets.version} + 1`,
      updatedAt: sql`excluded.updated_at`,
    },
  }).returning())

// Trend rules (predicted failures) carry the moment the fitted line reaches the limit.
function predictedFailureOf(d: Detection): Date | undefined {
  return d.predictedFailureAt === undefined ? undefined : new Date(d.predictedFailureAt)
}
