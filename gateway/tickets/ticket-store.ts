import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm'
import type { Detection } from '../../rules/detection.js'
import type { Database } from '../db/database.js'
import { newId } from '../db/ids.js'
import { OPEN_TICKET, detections, tickets } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { enqueueTicketEvent } from '../outbox/outbox-store.js'
import { toTicketJson, type TicketJson } from './ticket-json.js'

const DETECTION_TRAIL = 50

export const SEVERITY_PRIORITY = { critical: 1, major: 2, minor: 3, info: 4 } as const

export type RecordOutcome = { action: 'opened' | 'updated'; ticket: TicketJson } | { action: 'shadow' | 'duplicate' }

export type TicketFilters = { deviceId?: string; customerId?: string; status?: string; problem?: string; limit: number; before?: string }

/**
 * Turns detections into tickets. The partial unique index `tickets_one_open` — not this code —
 * guarantees one open ticket per (device, problem); the upsert names it as its conflict target.
 * Each change and its outbox rows commit in one transaction.
 */
export function createTicketStore(opts: {
  database: Database
  metrics: Metrics
  slaMs: Record<string, number>
  now?: () => number
  onOutbox?: () => void
}) {
  const { database, metrics } = opts
  const now = opts.now ?? Date.now

  async function recordDetection(d: Detection, customerId: string | null): Promise<RecordOutcome> {
    const at = new Date(now())
    const detectedAt = new Date(d.detectedAt)
    const outcome = await database.db.transaction(async (tx): Promise<RecordOutcome> => {
      // Rebuilding rule state after a restart replays detections already handled: they stop here.
      const [logged] = await tx.insert(detections)
        .values({ ruleId: d.ruleId, ruleVersion: d.ruleVersion, mode: d.mode, deviceId: d.deviceId, problem: d.problem, detectedAt, evidence: d.evidence })
        .onConflictDoNothing()
        .returning({ id: detections.id })
      if (!logged) return { action: 'duplicate' }
      if (d.mode !== 'active') return { action: 'shadow' }

      const newer = sql`excluded.last_detected_at >= ${tickets.lastDetectedAt}`
      const [row] = await tx.insert(tickets)
        .values({
          id: newId('tkt', at.getTime()), deviceId: d.deviceId, customerId, problem: d.problem, type: d.ticketType,
          title: d.title, severity: d.severity, priority: SEVERITY_PRIORITY[d.severity], openedAt: at, detectedAt,
          slaDueAt: new Date(at.getTime() + (opts.slaMs[d.ticketType] ?? opts.slaMs.service)),
          lastDetectedAt: detectedAt, ruleId: d.ruleId, ruleVersion: d.ruleVersion, evidence: d.evidence, updatedAt: at,
        })
        .onConflictDoUpdate({
          target: [tickets.deviceId, tickets.problem],
          targetWhere: OPEN_TICKET,
          set: {
            occurrences: sql`${tickets.occurrences} + 1`,
            lastDetectedAt: sql`greatest(${tickets.lastDetectedAt}, excluded.last_detected_at)`,
            // A detection that arrives out of order counts, but the newest evidence stays on top.
            evidence: sql`case when ${newer} then excluded.evidence else ${tickets.evidence} end`,
            ruleVersion: sql`case when ${newer} then excluded.rule_version else ${tickets.ruleVersion} end`,
            severity: sql`case when excluded.priority < ${tickets.priority} then excluded.severity else ${tickets.severity} end`,
            priority: sql`least(${tickets.priority}, excluded.priority)`,
            version: sql`${tickets.version} + 1`,
            updatedAt: at,
          },
        })
        .returning()
      const action = row.version === 1 ? 'opened' : 'updated'
      await tx.update(detections).set({ ticketId: row.id }).where(eq(detections.id, logged.id))
      const ticket = toTicketJson(row)
      await enqueueTicketEvent(tx, { type: action === 'opened' ? 'ticket.opened' : 'ticket.updated', ticket }, at)
      return { action, ticket }
    })
    metrics.detections.inc({ mode: d.mode })
    if (outcome.action === 'opened' || outcome.action === 'updated') {
      metrics.tickets.inc({ action: outcome.action })
      opts.onOutbox?.()
    }
    return outcome
  }

  async function list(f: TicketFilters): Promise<TicketJson[]> {
    const where: SQL[] = []
    if (f.deviceId) where.push(eq(tickets.deviceId, f.deviceId))
    if (f.customerId) where.push(eq(tickets.customerId, f.customerId))
    if (f.status) where.push(eq(tickets.status, f.status))
    if (f.problem) where.push(eq(tickets.problem, f.problem))
    if (f.before) where.push(lt(tickets.id, f.before))
    const rows = await database.db.select().from(tickets).where(and(...where)).orderBy(desc(tickets.id)).limit(f.limit)
    return rows.map(toTicketJson)
  }

  /** One ticket with the detections behind it, newest first: the evidence trail an agent reads. */
  async function get(id: string) {
    const [row] = await database.db.select().from(tickets).where(eq(tickets.id, id))
    if (!row) return undefined
    const trail = await database.db.select().from(detections).where(eq(detections.ticketId, id)).orderBy(desc(detections.detectedAt)).limit(DETECTION_TRAIL)
    return {
      ...toTicketJson(row),
      detections: trail.map((d) => ({ ruleId: d.ruleId, ruleVersion: d.ruleVersion, detectedAt: d.detectedAt.toISOString(), evidence: d.evidence })),
    }
  }

  return { recordDetection, list, get }
}

export type TicketStore = ReturnType<typeof createTicketStore>
