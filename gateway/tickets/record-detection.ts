import { and, desc, eq, getTableColumns, is, Param, sql, SQL } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { Db, Tx } from '../db/database.js'
import { reusableQuery } from '../db/reusable-query.js'
import { OPEN_TICKET, detections, tickets } from '../db/schema.js'

type TicketRow = typeof tickets.$inferSelect

export type DetectionValues = {
  /** Only an active detection (`mode` 'active') opens or updates a ticket. */
  ruleId: string; ruleVersion: number; mode: string; deviceId: string; problem: string; detectedAt: Date; evidence: unknown
  /** A ticket closed at or after this counts as the earlier one of a repeat. */
  repeatSince: Date
  /** The rest of a new ticket: its id, what the detection says, and its terms as a first occurrence. */
  ticket: Omit<typeof tickets.$inferInsert, 'repeatOf'>
  /** Its priority as a repeat, the one term a repeat changes (see `ticketTerms`). */
  repeatPriority: number
}

/**
 * What the statement found and did: whether the detection was logged for the first time, the
 * device's latest ticket for the problem as it was, and the ticket opened or updated, if any (a
 * ticket it opened carries the one it repeats in `repeatOf`).
 */
export type DetectionRecorded = {
  loggedId: number | null
  last: { id: string; status: string } | null
  ticket: TicketRow | null
}

/**
 * Logs a detection and opens or updates its ticket in one statement, where it took two round trips
 * (the detection logged and the latest ticket read and locked, then the upsert): on a busy gateway
 * each round trip waits a turn of the event loop, and a fault waits for every one of them.
 *
 * The ticket is opened, or the open one updated through the `tickets_one_open` conflict target,
 * only when the detection is new, active, and the device's latest ticket for the problem is
 * missing, closed, or open with an older detection. Otherwise nothing is written to tickets and the
 * caller decides from `last`: a resolved ticket is reopened, an open one with a newer detection
 * already holds this one. A repeat (the latest ticket closed at or after `repeatSince`) takes the
 * repeat priority, the one term a repeat changes. Data-modifying parts of one statement share its snapshot, so the upsert reads the
 * latest ticket from `last` and the detection's novelty from what `logged` returned.
 */
export async function recordDetection(tx: Tx, v: DetectionValues): Promise<DetectionRecorded> {
  // The detection and its ticket share their device, problem, rule, time and evidence placeholders.
  const { ticket, ...detection } = v
  const [row] = await recordStatement(tx, { ...ticket, ...detection })
  return {
    loggedId: row.loggedId,
    last: row.lastId === null ? null : { id: row.lastId, status: row.lastStatus! },
    ticket: row.ticket,
  }
}

/** A value bound as `column` binds its values (encoded by it, and typed as its SQL type). */
const typed = (value: unknown, column: PgColumn) => sql`cast(${new Param(value, column)} as ${sql.raw(column.getSQLType())})`
/** A placeholder bound so. */
const bound = (name: string, column: PgColumn) => typed(sql.placeholder(name), column)

const newer = sql`excluded.last_detected_at >= ${tickets.lastDetectedAt}`

/** How an open ticket takes a detection that comes again (the conflict's update). */
const UPDATE_OPEN_TICKET = {
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
}

const recordStatement = reusableQuery(buildRecordStatement)

/** The statement, built for `db` (exported for its SQL to be read). */
export function buildRecordStatement(db: Db | Tx) {
  const columns = getTableColumns(tickets)
  const logged = db.$with('logged').as(db.insert(detections).values({
    ruleId: sql.placeholder('ruleId'), ruleVersion: sql.placeholder('ruleVersion'), mode: sql.placeholder('mode'), deviceId: sql.placeholder('deviceId'),
    problem: sql.placeholder('problem'), detectedAt: sql.placeholder('detectedAt'), evidence: sql.placeholder('evidence'),
  }).onConflictDoNothing().returning({ id: detections.id }))
  const last = db.$with('last').as(db.select({ id: tickets.id, status: tickets.status, lastDetectedAt: tickets.lastDetectedAt, resolvedAt: tickets.resolvedAt })
    .from(tickets)
    .where(and(eq(tickets.deviceId, sql.placeholder('deviceId')), eq(tickets.problem, sql.placeholder('problem'))))
    .orderBy(desc(tickets.openedAt)).limit(1).for('update'))
  // One row when the ticket is to be opened or updated, saying whether it would be a repeat.
  const fresh = db.$with('fresh').as(db.select({
    repeatOf: sql<string | null>`case when ${last.status} = 'closed' and ${last.resolvedAt} >= ${bound('repeatSince', tickets.resolvedAt)} then ${last.id} end`.as('repeat_of'),
  }).from(sql`(select) as one`).leftJoin(last, sql`true`).where(and(
    sql`exists (select from ${logged})`,
    sql`${bound('mode', detections.mode)} = 'active'`,
    sql`(${last.id} is null or ${last.status} = 'closed' or (${last.status} <> 'resolved' and ${last.lastDetectedAt} < ${bound('detectedAt', tickets.lastDetectedAt)}))`,
  )))
  // Every column of tickets in its order, as drizzle's insert lists them: the new ticket's values
  // (its priority as a repeat where it is one), and the schema's defaults for the rest.
  // (drizzle leaves generated columns out; tickets has none.)
  const values = Object.entries(columns).map(([key, column]) => {
    if (key === 'repeatOf') return sql`${fresh.repeatOf}`
    if (key === 'priority') return sql`case when ${fresh.repeatOf} is null then ${bound('priority', column)} else ${bound('repeatPriority', column)} end`
    if (GIVEN.has(key)) return bound(key, column)
    if (!column.hasDefault) return sql`null`
    return is(column.default, SQL) ? column.default : typed(column.default, column)
  })
  const opened = db.$with('opened').as(db.insert(tickets).select(sql`select ${sql.join(values, sql`, `)} from ${fresh}`)
    .onConflictDoUpdate({ target: [tickets.deviceId, tickets.problem], targetWhere: OPEN_TICKET, set: UPDATE_OPEN_TICKET })
    .returning())
  return db.with(logged, last, fresh, opened).select({
    loggedId: sql<number | null>`(select id from ${logged})`.mapWith(Number),
    lastId: sql<string | null>`(select id from ${last})`,
    lastStatus: sql<string | null>`(select status from ${last})`,
    // Null when nothing was opened or updated (drizzle nulls a left-joined selection that is all null).
    ticket: Object.fromEntries(Object.keys(columns).map((key) => [key, opened[key as keyof typeof columns]])) as unknown as typeof columns,
  }).from(sql`(select) as one`).leftJoin(opened, sql`true`)
}

// The columns a detection gives a new ticket, bound even where the column has a default; the rest
// take theirs, or null.
const GIVEN = new Set<string>([
  'id', 'deviceId', 'customerId', 'problem', 'type', 'title', 'severity', 'detectedAt', 'ruleId', 'notifyCustomer',
  'openedAt', 'slaMs', 'slaPausedMs', 'slaDueAt', 'nextEscalationAt', 'lastDetectedAt', 'evidence', 'ruleVersion', 'updatedAt', 'predictedFailureAt',
])
