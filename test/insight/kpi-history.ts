import type { Database } from '../../gateway/db/database.js'
import { contacts, customers, deviceTypes, devices, tickets } from '../../gateway/db/schema.js'

export const DAY = 86_400_000
export const HOUR = 3_600_000
/** The KPI period of the seeded history: October 2026, [from, to). */
export const FROM = Date.parse('2026-10-01T00:00:00Z')
export const TO = Date.parse('2026-11-01T00:00:00Z')
const D = FROM

type TicketInsert = typeof tickets.$inferInsert
const at = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms))

function ticket(id: string, t: {
  device: string; opened: number; rule?: [string, number]; problem: string; type: string; source?: string; status: string
  outcome?: string; ack?: number; dispatched?: number; resolved?: number; slaDays: number; level?: number; repeatOf?: string; predicted?: number
}): TicketInsert {
  return {
    id, deviceId: t.device, customerId: 'c-kpi', problem: t.problem, type: t.type, title: id, source: t.source ?? 'detection', status: t.status,
    severity: 'major', priority: 2, openedAt: at(t.opened)!, detectedAt: at(t.opened)!, lastDetectedAt: at(t.opened)!,
    slaDueAt: at(t.opened + t.slaDays * DAY)!, ruleId: t.rule?.[0] ?? null, ruleVersion: t.rule?.[1] ?? null, evidence: {},
    outcome: t.outcome ?? null, acknowledgedAt: at(t.ack), dispatchedAt: at(t.dispatched), resolvedAt: at(t.resolved),
    closedAt: t.status === 'closed' ? at(t.resolved) : null, escalationLevel: t.level ?? 0, repeatOf: t.repeatOf ?? null, predictedFailureAt: at(t.predicted),
  }
}

/**
 * A month of service history whose KPIs are worked out by hand in kpis.test.ts. D = 2026-10-01.
 *
 *  id  device  rule              type               opened      what happened
 *  T1  wm-1    washer-drain v1   service            D+1d        ack +1h, dispatched +5h, resolved fixed +1d (due +5d: met), level 0
 *  T2  wm-2    washer-drain v2   service            D+2d        contact C1 at +2h, ack +2h, resolved no_fault_found +6d (due +5d: missed), level 3
 *  T3  fr-1    fridge-temp v1    predicted_failure  D+3d        predicts failure at +10d; ack +4h, dispatched +1d, resolved replaced +2d (due +7d: met), level 1
 *  T4  wm-1    —                 complaint          D+4d        opened by contact C2 (new complaint), still open
 *  T5  wm-1    washer-drain v1   service            D+10d       repeat of T1; contact C3 at the very instant it opened; ack +30min
 *  T6  fr-1    fridge-temp v1    predicted_failure  D+20d       predicts failure at +3d; dispatched +1d without ack, resolved fixed +6d (due +7d: met), level 2
 *  T7  wm-1    washer-drain v1   service            2026-09-20  acked 09-21, resolved customer_declined at D+1d (due 09-25: missed), level 3
 *  T8  wm-2    washer-drain v1   service            D+31d = to  still open (outside the period: `to` is excluded)
 *  T9  wm-2    washer-drain v2   service            D+5d        resolved fixed at D+6d, then the problem came back: reopened
 */
export async function seedKpiHistory(database: Database) {
  const { db } = database
  await db.insert(deviceTypes).values([
    { id: 'washer', name: 'Washing machine', metrics: { drain_time_s: { unit: 's' } } },
    { id: 'fridge', name: 'Fridge', metrics: { temp_c: { unit: '°C' } } },
  ])
  await db.insert(customers).values({ id: 'c-kpi', name: 'K' })
  await db.insert(devices).values([
    { id: 'wm-1', typeId: 'washer', customerId: 'c-kpi', secretHash: 'x' },
    { id: 'wm-2', typeId: 'washer', customerId: 'c-kpi', secretHash: 'x' },
    { id: 'fr-1', typeId: 'fridge', customerId: 'c-kpi', secretHash: 'x' },
  ])
  const drain = 'drain-pump'
  await db.insert(tickets).values([
    ticket('T1', { device: 'wm-1', rule: ['washer-drain', 1], problem: drain, type: 'service', status: 'closed', outcome: 'fixed', opened: D + DAY, ack: D + DAY + HOUR, dispatched: D + DAY + 5 * HOUR, resolved: D + 2 * DAY, slaDays: 5 }),
    ticket('T2', { device: 'wm-2', rule: ['washer-drain', 2], problem: drain, type: 'service', status: 'resolved', outcome: 'no_fault_found', opened: D + 2 * DAY, ack: D + 2 * DAY + 2 * HOUR, resolved: D + 8 * DAY, slaDays: 5, level: 3 }),
    ticket('T3', { device: 'fr-1', rule: ['fridge-temp', 1], problem: 'compressor', type: 'predicted_failure', status: 'closed', outcome: 'replaced', opened: D + 3 * DAY, ack: D + 3 * DAY + 4 * HOUR, dispatched: D + 4 * DAY, resolved: D + 5 * DAY, slaDays: 7, level: 1, predicted: D + 13 * DAY }),
    ticket('T4', { device: 'wm-1', problem: 'customer-contact', type: 'complaint', source: 'contact', status: 'open', opened: D + 4 * DAY, slaDays: 3 }),
    ticket('T5', { device: 'wm-1', rule: ['washer-drain', 1], problem: drain, type: 'service', status: 'acknowledged', opened: D + 10 * DAY, ack: D + 10 * DAY + HOUR / 2, slaDays: 5, repeatOf: 'T1' }),
    ticket('T6', { device: 'fr-1', rule: ['fridge-temp', 1], problem: 'compressor', type: 'predicted_failure', status: 'resolved', outcome: 'fixed', opened: D + 20 * DAY, dispatched: D + 21 * DAY, resolved: D + 26 * DAY, slaDays: 7, level: 2, predicted: D + 23 * DAY }),
    ticket('T7', { device: 'wm-1', rule: ['washer-drain', 1], problem: 'door', type: 'service', status: 'closed', outcome: 'customer_declined', opened: Date.parse('2026-09-20T00:00:00Z'), ack: Date.parse('2026-09-21T00:00:00Z'), resolved: D + DAY, slaDays: 5, level: 3 }),
    ticket('T8', { device: 'wm-2', rule: ['washer-drain', 1], problem: drain, type: 'service', status: 'open', opened: TO, slaDays: 5 }),
    ticket('T9', { device: 'wm-2', rule: ['washer-drain', 2], problem: 'door', type: 'service', status: 'reopened', opened: D + 5 * DAY, resolved: D + 6 * DAY, slaDays: 5 }),
  ])
  const contact = (id: string, ticketId: string, device: string, createdAt: number, linkage: string) =>
    ({ id, customerId: 'c-kpi', deviceId: device, channel: 'phone', reason: id, ticketId, linkage, createdAt: new Date(createdAt) })
  await db.insert(contacts).values([
    contact('C0', 'T7', 'wm-1', Date.parse('2026-09-30T00:00:00Z'), 'known_problem'),
    contact('C1', 'T2', 'wm-2', D + 2 * DAY + 2 * HOUR, 'known_problem'),
    contact('C2', 'T4', 'wm-1', D + 4 * DAY, 'new_complaint'),
    contact('C3', 'T5', 'wm-1', D + 10 * DAY, 'known_problem'),
  ])
}
