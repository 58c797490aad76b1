import type { Database } from '../db/database.js'
import { KPI_DEFINITIONS } from './kpi-definitions.js'
import {
  queryContacts, queryOpened, queryOutcomes, queryResponseTimes, queryRuleVersions, querySla,
  type ContactRow, type KpiGroup, type OpenedRow, type OutcomeRow, type Period, type ResponseRow, type SlaRow,
} from './kpi-queries.js'
import { ratio } from './sql-helpers.js'

export { KPI_GROUPS, type KpiGroup } from './kpi-queries.js'

type SlaType = { resolved: number; met: number; attainment: number | null; escalationLevels: Record<string, number> }

function emptyFigures() {
  return {
    tickets: { opened: 0, proactive: 0, proactiveRate: null as number | null, repeats: 0, repeatRate: null as number | null },
    contacts: { total: 0, knownProblem: 0, newComplaint: 0, knownProblemShare: null as number | null },
    sla: { resolved: 0, met: 0, attainment: null as number | null, escalationLevels: {} as Record<string, number>, byType: {} as Record<string, SlaType> },
    responseTimes: {
      acknowledge: { tickets: 0, meanSeconds: null as number | null },
      dispatch: { tickets: 0, meanSeconds: null as number | null },
      resolve: { tickets: 0, meanSeconds: null as number | null },
    },
    ...outcomeFigures(undefined),
  }
}
export type KpiFigures = ReturnType<typeof emptyFigures>

function outcomeFigures(r: OutcomeRow | undefined) {
  const confirmed = (r?.fixed ?? 0) + (r?.replaced ?? 0)
  return {
    leadTime: {
      predicted: r?.predicted ?? 0,
      confirmed: r?.predicted_confirmed ?? 0,
      meanWarningSeconds: r?.mean_warning_s ?? null,
      meanOpenToResolveSeconds: r?.mean_open_to_resolve_s ?? null,
      resolvedBeforePredictedFailure: r?.before_predicted_failure ?? 0,
    },
    precision: {
      confirmed, fixed: r?.fixed ?? 0, replaced: r?.replaced ?? 0, noFaultFound: r?.no_fault_found ?? 0,
      precision: ratio(confirmed, confirmed + (r?.no_fault_found ?? 0)),
      customerDeclined: r?.customer_declined ?? 0, selfCleared: r?.self_cleared ?? 0,
    },
  }
}

/**
 * Service KPIs for a period, overall and per group: a handful of aggregate queries (each one scan
 * with GROUPING SETS for the overall row and the groups), never the ticket rows themselves.
 */
export async function computeKpis(database: Database, opts: Period & { groupBy?: KpiGroup }) {
  const { groupBy } = opts
  const period = { from: opts.from, to: opts.to }
  const [opened, contactRows, responses, sla, outcomes, ruleVersions] = await Promise.all([
    queryOpened(database, period, groupBy),
    queryContacts(database, period, groupBy),
    queryResponseTimes(database, period, groupBy),
    querySla(database, period, groupBy),
    queryOutcomes(database, period, groupBy),
    queryRuleVersions(database, period),
  ])

  const overall = emptyFigures()
  const groups = new Map<string | null, KpiFigures>()
  const figuresOf = (row: { overall: boolean; key: string | null }) => {
    if (row.overall) return overall
    let found = groups.get(row.key)
    if (!found) groups.set(row.key, (found = emptyFigures()))
    return found
  }
  for (const r of opened) applyOpened(figuresOf(r), r)
  for (const r of contactRows) applyContacts(figuresOf(r), r)
  for (const r of responses) applyResponses(figuresOf(r), r)
  for (const r of sla) applySla(figuresOf(r), r)
  for (const r of outcomes) Object.assign(figuresOf(r), outcomeFigures(r))
  for (const f of [overall, ...groups.values()]) finishSla(f)

  return {
    period: { from: opts.from.toISOString(), to: opts.to.toISOString() },
    groupBy: groupBy ?? null,
    overall,
    groups: groupBy
      ? [...groups].sort(([a], [b]) => (a ?? '').localeCompare(b ?? '')).map(([key, figures]) => ({ key, ...figures }))
      : [],
    ruleVersions: ruleVersions.map((r) => ({ ruleId: r.rule_id, ruleVersion: r.rule_version, ...outcomeFigures(r) })),
    definitions: KPI_DEFINITIONS,
  }
}

function applyOpened(f: KpiFigures, r: OpenedRow) {
  f.tickets = { opened: r.opened, proactive: r.proactive, proactiveRate: ratio(r.proactive, r.opened), repeats: r.repeats, repeatRate: ratio(r.repeats, r.opened) }
}

function applyContacts(f: KpiFigures, r: ContactRow) {
  f.contacts = { total: r.total, knownProblem: r.known_problem, newComplaint: r.new_complaint, knownProblemShare: ratio(r.known_problem, r.total) }
}

function applyResponses(f: KpiFigures, r: ResponseRow) {
  f.responseTimes = {
    acknowledge: { tickets: r.acknowledged, meanSeconds: r.mean_acknowledge_s },
    dispatch: { tickets: r.dispatched, meanSeconds: r.mean_dispatch_s },
    resolve: { tickets: r.resolved, meanSeconds: r.mean_resolve_s },
  }
}

// SLA rows come one per (type, escalation level); fold them into per-type and overall counts.
function applySla(f: KpiFigures, r: SlaRow) {
  const level = String(r.escalation_level)
  const type = (f.sla.byType[r.type] ??= { resolved: 0, met: 0, attainment: null, escalationLevels: {} })
  type.resolved += r.resolved
  type.met += r.met
  type.escalationLevels[level] = (type.escalationLevels[level] ?? 0) + r.resolved
  f.sla.resolved += r.resolved
  f.sla.met += r.met
  f.sla.escalationLevels[level] = (f.sla.escalationLevels[level] ?? 0) + r.resolved
}

function finishSla(f: KpiFigures) {
  f.sla.attainment = ratio(f.sla.met, f.sla.resolved)
  for (const type of Object.values(f.sla.byType)) type.attainment = ratio(type.met, type.resolved)
}
