import type { tickets } from '../db/schema.js'

export type TicketRow = typeof tickets.$inferSelect

const iso = (d: Date | null) => (d ? d.toISOString() : null)

/** The ticket as CRMs and agents see it (DESIGN.md external contract); `version` orders updates. */
export function toTicketJson(t: TicketRow) {
  return {
    id: t.id,
    deviceId: t.deviceId,
    customerId: t.customerId,
    problem: t.problem,
    type: t.type,
    title: t.title,
    status: t.status,
    severity: t.severity,
    priority: t.priority,
    openedAt: iso(t.openedAt),
    detectedAt: iso(t.detectedAt),
    slaDueAt: iso(t.slaDueAt),
    occurrences: t.occurrences,
    lastDetectedAt: iso(t.lastDetectedAt),
    ruleId: t.ruleId,
    ruleVersion: t.ruleVersion,
    evidence: t.evidence,
    predictedFailureAt: iso(t.predictedFailureAt),
    repeatOf: t.repeatOf,
    escalationLevel: t.escalationLevel,
    nextEscalationAt: iso(t.nextEscalationAt),
    source: t.source,
    externalId: t.externalId,
    technician: t.technician,
    appointmentAt: iso(t.appointmentAt),
    outcome: t.outcome,
    slaPaused: t.slaPausedAt !== null,
    notifyCustomer: t.notifyCustomer,
    acknowledgedAt: iso(t.acknowledgedAt),
    dispatchedAt: iso(t.dispatchedAt),
    resolvedAt: iso(t.resolvedAt),
    closedAt: iso(t.closedAt),
    version: t.version,
    updatedAt: iso(t.updatedAt),
  }
}

export type TicketJson = ReturnType<typeof toTicketJson>
