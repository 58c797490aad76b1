import { sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { at } from './sql-helpers.js'

export const KPI_GROUPS = ['rule', 'problem', 'deviceType'] as const
export type KpiGroup = (typeof KPI_GROUPS)[number]
export type Period = { from: Date; to: Date }

// Queries read tickets as `t` left-joined to their device as `d`.
const GROUP_KEY: Record<KpiGroup, SQL> = { rule: sql`t.rule_id`, problem: sql`t.problem`, deviceType: sql`d.type_id` }

/** `overall` marks the row aggregated over every group (GROUPING SETS), `key` the group's value. */
export type Grouped = { overall: boolean; key: string | null }

/** One scan gives the overall figure and one per group: GROUPING SETS ((), (key)). */
function grouping(groupBy: KpiGroup | undefined, extra: SQL[] = []) {
  const key = groupBy ? GROUP_KEY[groupBy] : undefined
  const tail = extra.length ? sql.join(extra, sql`, `) : undefined
  const set = (...parts: (SQL | undefined)[]) => sql`(${sql.join(parts.filter((p): p is SQL => p !== undefined), sql`, `)})`
  return {
    select: key ? sql`grouping(${key}) = 1 as overall, ${key} as key` : sql`true as overall, null::text as key`,
    groupBy: key ? sql`group by grouping sets (${set(tail)}, ${set(key, tail)})` : tail ? sql`group by ${tail}` : sql``,
  }
}

export const within = (column: SQL, p: Period) => sql`(${column} >= ${at(p.from)} and ${column} < ${at(p.to)})`
const seconds = (later: SQL, earlier: SQL) => sql`extract(epoch from (${later} - ${earlier}))`
const CONFIRMED = sql`t.outcome in ('fixed', 'replaced')`

/** Opened by a detection before any customer contact about it. */
export const PROACTIVE = sql`(t.source = 'detection' and not exists (
  select 1 from contacts c where c.ticket_id = t.id and c.created_at <= t.opened_at
))`

/** The resolved cohort: resolved or closed now, latest resolution in the period. */
export const resolvedIn = (p: Period) => sql`(t.status in ('resolved', 'closed') and ${within(sql`t.resolved_at`, p)})`

export type OpenedRow = Grouped & { opened: number; proactive: number; repeats: number }
export function queryOpened(database: Database, p: Period, groupBy?: KpiGroup) {
  const g = grouping(groupBy)
  return database.query<OpenedRow>(sql`
    select ${g.select}, count(*)::int as opened,
      count(*) filter (where ${PROACTIVE})::int as proactive,
      count(*) filter (where t.repeat_of is not null)::int as repeats
    from tickets t left join devices d on d.id = t.device_id
    where ${within(sql`t.opened_at`, p)}
    ${g.groupBy}`)
}

export type ContactRow = Grouped & { total: number; known_problem: number; new_complaint: number }
export function queryContacts(database: Database, p: Period, groupBy?: KpiGroup) {
  const g = grouping(groupBy)
  return database.query<ContactRow>(sql`
    select ${g.select}, count(*)::int as total,
      count(*) filter (where c.linkage = 'known_problem')::int as known_problem,
      count(*) filter (where c.linkage = 'new_complaint')::int as new_complaint
    from contacts c
    left join tickets t on t.id = c.ticket_id
    left join devices d on d.id = coalesce(t.device_id, c.device_id)
    where ${within(sql`c.created_at`, p)}
    ${g.groupBy}`)
}

export type ResponseRow = Grouped & {
  acknowledged: number; mean_acknowledge_s: number | null; dispatched: number; mean_dispatch_s: number | null; resolved: number; mean_resolve_s: number | null
}
export function queryResponseTimes(database: Database, p: Period, groupBy?: KpiGroup) {
  const g = grouping(groupBy)
  const ack = within(sql`t.acknowledged_at`, p)
  const dispatch = within(sql`t.dispatched_at`, p)
  const resolved = resolvedIn(p)
  return database.query<ResponseRow>(sql`
    select ${g.select},
      count(*) filter (where ${ack})::int as acknowledged,
      (avg(${seconds(sql`t.acknowledged_at`, sql`t.opened_at`)}) filter (where ${ack}))::float8 as mean_acknowledge_s,
      count(*) filter (where ${dispatch})::int as dispatched,
      (avg(${seconds(sql`t.dispatched_at`, sql`t.opened_at`)}) filter (where ${dispatch}))::float8 as mean_dispatch_s,
      count(*) filter (where ${resolved})::int as resolved,
      (avg(${seconds(sql`t.resolved_at`, sql`t.opened_at`)}) filter (where ${resolved}))::float8 as mean_resolve_s
    from tickets t left join devices d on d.id = t.device_id
    where ${ack} or ${dispatch} or ${resolved}
    ${g.groupBy}`)
}

export type SlaRow = Grouped & { type: string; escalation_level: number; resolved: number; met: number }
export function querySla(database: Database, p: Period, groupBy?: KpiGroup) {
  const g = grouping(groupBy, [sql`t.type`, sql`t.escalation_level`])
  return database.query<SlaRow>(sql`
    select ${g.select}, t.type, t.escalation_level, count(*)::int as resolved,
      count(*) filter (where t.resolved_at <= t.sla_due_at)::int as met
    from tickets t left join devices d on d.id = t.device_id
    where ${resolvedIn(p)}
    ${g.groupBy}`)
}

export type OutcomeRow = {
  fixed: number; replaced: number; no_fault_found: number; customer_declined: number; self_cleared: number
  predicted: number; predicted_confirmed: number; mean_warning_s: number | null; mean_open_to_resolve_s: number | null; before_predicted_failure: number
}
// Outcomes of the resolved cohort: rule precision and predicted-failure lead time.
const OUTCOME_COLUMNS = sql`
  count(*) filter (where t.rule_id is not null and t.outcome = 'fixed')::int as fixed,
  count(*) filter (where t.rule_id is not null and t.outcome = 'replaced')::int as replaced,
  count(*) filter (where t.rule_id is not null and t.outcome = 'no_fault_found')::int as no_fault_found,
  count(*) filter (where t.rule_id is not null and t.outcome = 'customer_declined')::int as customer_declined,
  count(*) filter (where t.rule_id is not null and t.outcome = 'self_cleared')::int as self_cleared,
  count(*) filter (where t.predicted_failure_at is not null)::int as predicted,
  count(*) filter (where t.predicted_failure_at is not null and ${CONFIRMED})::int as predicted_confirmed,
  (avg(${seconds(sql`t.predicted_failure_at`, sql`t.opened_at`)}) filter (where t.predicted_failure_at is not null and ${CONFIRMED}))::float8 as mean_warning_s,
  (avg(${seconds(sql`t.resolved_at`, sql`t.opened_at`)}) filter (where t.predicted_failure_at is not null and ${CONFIRMED}))::float8 as mean_open_to_resolve_s,
  count(*) filter (where t.predicted_failure_at is not null and ${CONFIRMED} and t.resolved_at <= t.predicted_failure_at)::int as before_predicted_failure`

export function queryOutcomes(database: Database, p: Period, groupBy?: KpiGroup) {
  const g = grouping(groupBy)
  return database.query<Grouped & OutcomeRow>(sql`
    select ${g.select}, ${OUTCOME_COLUMNS}
    from tickets t left join devices d on d.id = t.device_id
    where ${resolvedIn(p)}
    ${g.groupBy}`)
}

export function queryRuleVersions(database: Database, p: Period) {
  return database.query<OutcomeRow & { rule_id: string; rule_version: number | null }>(sql`
    select t.rule_id, t.rule_version, ${OUTCOME_COLUMNS}
    from tickets t
    where ${resolvedIn(p)} and t.rule_id is not null
    group by t.rule_id, t.rule_version
    order by t.rule_id, t.rule_version`)
}
