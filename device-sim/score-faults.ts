import type { GroundTruth, GroundTruthFault } from './plan-fleet.js'

/** A ticket from the API, or a detection from `npm run replay`: only these fields matter. */
export type TicketLike = { id?: string; deviceId: string; problem: string; detectedAt: string | number; ruleId?: string; type?: string }

export type Verdict = 'early' | 'late' | 'missed' | 'quiet' | 'false-alarm'

export type FaultScore = GroundTruthFault & {
  verdict: Verdict
  detectedAt?: number
  /** Failure time minus detection time: how long before the customer would have noticed. */
  leadMs?: number
  ruleId?: string
  ticketId?: string
}

export type Score = {
  faults: FaultScore[]
  falseAlarms: TicketLike[]
  tickets: number
  matchedTickets: number
  /** Share of tickets that match a fault (device, problem, opened after the fault began); NaN without tickets. */
  precision: number
  /** Share of faults that should open a ticket and did. */
  recall: number
  /** Share of those detected before the failure. */
  earlyRecall: number
  medianLeadMs: number
}

const ms = (t: string | number) => (typeof t === 'number' ? t : Date.parse(t))

/**
 * Compares the tickets a gateway opened with the faults a run injected. Tickets from other runs
 * (other devices, or detected before this run began) are ignored; a ticket on a device whose
 * fault is not one that deserves a ticket, or with the wrong problem, is a false alarm.
 */
export function scoreFaults(truth: GroundTruth, all: readonly TicketLike[]): Score {
  const start = ms(truth.start)
  const fleet = new Set(truth.devices.map((d) => d.id))
  const tickets = all.filter((t) => fleet.has(t.deviceId) && ms(t.detectedAt) >= start)
  const matched = new Set<TicketLike>()

  const faults = truth.faults.map((f): FaultScore => {
    const from = ms(f.startAt)
    const mine = tickets.filter((t) => t.deviceId === f.deviceId && ms(t.detectedAt) >= from)
    if (!f.expectTicket) return { ...f, verdict: mine.length > 0 ? 'false-alarm' : 'quiet' }
    const hits = mine.filter((t) => f.problems.includes(t.problem)).sort((a, b) => ms(a.detectedAt) - ms(b.detectedAt))
    for (const t of hits) matched.add(t)
    const first = hits[0]
    if (!first) return { ...f, verdict: 'missed' }
    const detectedAt = ms(first.detectedAt)
    const leadMs = f.failureAt === null ? undefined : ms(f.failureAt) - detectedAt
    return { ...f, verdict: leadMs === undefined || leadMs > 0 ? 'early' : 'late', detectedAt, leadMs, ruleId: first.ruleId, ticketId: first.id }
  })

  const expected = faults.filter((f) => f.expectTicket)
  const detected = expected.filter((f) => f.detectedAt !== undefined)
  const leads = detected.flatMap((f) => (f.leadMs === undefined ? [] : [f.leadMs])).sort((a, b) => a - b)
  return {
    faults,
    falseAlarms: tickets.filter((t) => !matched.has(t)),
    tickets: tickets.length,
    matchedTickets: matched.size,
    precision: tickets.length ? matched.size / tickets.length : NaN,
    recall: expected.length ? detected.length / expected.length : NaN,
    earlyRecall: expected.length ? detected.filter((f) => f.verdict === 'early').length / expected.length : NaN,
    medianLeadMs: leads.length === 0 ? NaN : leads.length % 2 ? leads[(leads.length - 1) / 2] : (leads[leads.length / 2 - 1] + leads[leads.length / 2]) / 2,
  }
}

/**
 * Replay detections repeat while a condition holds; the gateway folds them into one open ticket
 * per device and problem. Keep the first of each so both sources score alike.
 */
export function firstPerProblem<T extends TicketLike>(detections: readonly T[]): T[] {
  const seen = new Map<string, T>()
  for (const d of [...detections].sort((a, b) => ms(a.detectedAt) - ms(b.detectedAt))) {
    const key = `${d.deviceId}\u0000${d.problem}`
    if (!seen.has(key)) seen.set(key, d)
  }
  return [...seen.values()]
}
