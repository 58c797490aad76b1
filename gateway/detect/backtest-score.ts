import { and, gte, inArray, isNotNull, lte } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { contacts, tickets } from '../db/schema.js'

export type WouldBeTicket = { ruleId: string; /** The document's position in the request, from 1. */ ruleVersion: number; deviceId: string; problem: string; detectedAt: number; lastDetectedAt: number; occurrences: number }
export type ScoredTicket = WouldBeTicket & {
  verdict: 'confirmed' | 'false_alarm' | 'unknown'
  matchedTicketId: string | null
  outcome: string | null
  leadTimeMs: number | null
}

const MATCH_WINDOW_MS = 30 * 86_400_000
const CONFIRMED = new Set(['fixed', 'replaced'])
const FALSE_ALARM = new Set(['no_fault_found'])

/**
 * Judges would-be tickets by what really happened on the same device and problem: the nearest
 * real ticket within 30 days that has an outcome. `fixed`/`replaced` confirm the fault,
 * `no_fault_found` makes it a false alarm, anything else (or no real ticket) is unknown. Lead time
 * is from the would-be detection to the customer's first contact about that device before the
 * real ticket was resolved — the moment the customer noticed; unknown when nobody called.
 */
export async function scoreAgainstOutcomes(database: Database, wouldBe: WouldBeTicket[], from: Date, to: Date): Promise<ScoredTicket[]> {
  if (wouldBe.length === 0) return []
  const deviceIds = [...new Set(wouldBe.map((t) => t.deviceId))]
  const window = { from: new Date(from.getTime() - MATCH_WINDOW_MS), to: new Date(to.getTime() + MATCH_WINDOW_MS) }
  const [real, calls] = await Promise.all([
    database.db.select().from(tickets).where(and(inArray(tickets.deviceId, deviceIds), isNotNull(tickets.outcome), gte(tickets.detectedAt, window.from), lte(tickets.detectedAt, window.to))),
    database.db.select({ deviceId: contacts.deviceId, createdAt: contacts.createdAt }).from(contacts)
      .where(and(inArray(contacts.deviceId, deviceIds), gte(contacts.createdAt, window.from), lte(contacts.createdAt, window.to))),
  ])
  return wouldBe.map((t) => {
    const match = real
      .filter((r) => r.deviceId === t.deviceId && r.problem === t.problem && Math.abs(r.detectedAt.getTime() - t.detectedAt) <= MATCH_WINDOW_MS)
      .sort((a, b) => Math.abs(a.detectedAt.getTime() - t.detectedAt) - Math.abs(b.detectedAt.getTime() - t.detectedAt))[0]
    if (!match) return { ...t, verdict: 'unknown', matchedTicketId: null, outcome: null, leadTimeMs: null }
    const verdict = CONFIRMED.has(match.outcome!) ? 'confirmed' : FALSE_ALARM.has(match.outcome!) ? 'false_alarm' : 'unknown'
    const until = match.resolvedAt?.getTime() ?? Infinity
    const firstCall = calls
      .filter((c) => c.deviceId === t.deviceId && c.createdAt.getTime() >= t.detectedAt && c.createdAt.getTime() <= until)
      .reduce<number | null>((min, c) => (min === null || c.createdAt.getTime() < min ? c.createdAt.getTime() : min), null)
    return { ...t, verdict, matchedTicketId: match.id, outcome: match.outcome, leadTimeMs: verdict === 'confirmed' && firstCall !== null ? firstCall - t.detectedAt : null }
  })
}
