import { and, asc, desc, eq, lt, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { detections, notifications, ticketHistory, tickets } from '../db/schema.js'
import { toTicketJson, type TicketJson } from './ticket-json.js'

const DETECTION_TRAIL = 50

export type TicketFilters = { deviceId?: string; customerId?: string; status?: string; problem?: string; limit: number; before?: string }

/** Reading tickets: lists for CRMs and ops, and one ticket with its history and evidence trail. */
export function createTicketStore(database: Database) {
  const { db } = database

  async function list(f: TicketFilters): Promise<TicketJson[]> {
    const where: SQL[] = []
    if (f.deviceId) where.push(eq(tickets.deviceId, f.deviceId))
    if (f.customerId) where.push(eq(tickets.customerId, f.customerId))
    if (f.status) where.push(eq(tickets.status, f.status))
    if (f.problem) where.push(eq(tickets.problem, f.problem))
    if (f.before) where.push(lt(tickets.id, f.before))
    const rows = await db.select().from(tickets).where(and(...where)).orderBy(desc(tickets.id)).limit(f.limit)
    return rows.map(toTicketJson)
  }

  /** One ticket with the detections behind it (newest first), its history and its customer messages (oldest first). */
  async function get(id: string) {
    const [row] = await db.select().from(tickets).where(eq(tickets.id, id))
    if (!row) return undefined
    const [trail, history, messages] = await Promise.all([
      db.select().from(detections).where(eq(detections.ticketId, id)).orderBy(desc(detections.detectedAt)).limit(DETECTION_TRAIL),
      db.select().from(ticketHistory).where(eq(ticketHistory.ticketId, id)).orderBy(asc(ticketHistory.id)),
      db.select().from(notifications).where(eq(notifications.ticketId, id)).orderBy(asc(notifications.id)),
    ])
    return {
      ...toTicketJson(row),
      detections: trail.map((d) => ({ ruleId: d.ruleId, ruleVersion: d.ruleVersion, detectedAt: d.detectedAt.toISOString(), evidence: d.evidence })),
      history: history.map((h) => ({ at: h.at.toISOString(), actor: h.actor, action: h.action, fromStatus: h.fromStatus, toStatus: h.toStatus, changes: h.changes, comment: h.comment })),
      // What the customer was told about this ticket, and how far each message got.
      notifications: messages.map((n) => ({
        id: n.id, kind: n.kind, status: n.status, reason: n.reason, channel: n.channel, address: n.address,
        createdAt: n.createdAt.toISOString(), sentAt: n.sentAt?.toISOString() ?? null, deliveredAt: n.deliveredAt?.toISOString() ?? null,
      })),
    }
  }

  return { list, get }
}

export type TicketStore = ReturnType<typeof createTicketStore>
