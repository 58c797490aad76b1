import { sql } from 'drizzle-orm'
import { execute, type Database, type Tx } from '../db/database.js'
import { isoTime } from '../db/sql-time.js'

/**
 * A reading's `received_at` is the start of the transaction that stored it; the batch is visible
 * once that transaction commits, milliseconds later. Rollups count arrivals up to this long ago,
 * so that no reading commits behind the mark they have counted up to.
 */
const SETTLE = sql.raw(`interval '2 minutes'`)

/**
 * Arrivals a rollup transaction counts at most. Each counts a device's metric for an hour once, so
 * longer chunks mean fewer rows updated a reading (a fleet reporting once a minute would update
 * every metric of every reading with one-minute chunks). On PGlite, one statement at a time,
 * ingest waits while a chunk is counted: ~7 µs a reading, 0.2 s for five minutes at 100 a second.
 */
const CHUNK = sql.raw(`interval '5 minutes'`)

/**
 * Memory for grouping a chunk's readings by device, metric and hour. With the default 4 MB,
 * PostgreSQL sorted 300,000 metric values on disk to group them; with this it hashes them in
 * memory (scratch measure, 100,000 readings of 5,000 devices: 9.7–10.6 → 6.1–7.1 µs a reading).
 */
const GROUPING_MEMORY = sql.raw(`set local work_mem = '32MB'`)

/** The least a chunk counts: caught up to within this, a pass stops (chasing the clock, it would never). */
const STEP = sql.raw(`interval '10 seconds'`)

const TASK = 'rollups'

/**
 * Counts one chunk of arrivals into the hourly rollups: each telemetry metric of each reading,
 * into its device's and metric's hour of event time (UTC). Rollups add up (counts and sums add,
 * min and max widen), so a reading that arrives late lands in its hour when it arrives. The mark
 * moves in the same transaction, under a row lock: each reading is counted once, whichever
 * gateway instance takes the chunk. Returns the readings counted, or undefined when caught up.
 */
export async function rollUpChunk(database: Database): Promise<number | undefined> {
  return database.db.transaction(async (tx) => {
    const [mark] = await execute<{ from: Date | string; to: Date | string; due: boolean }>(tx, sql`
      select done_up_to as from, least(done_up_to + ${CHUNK}, now() - ${SETTLE}) as to, done_up_to < now() - ${SETTLE} - ${STEP} as due
      from maintenance_marks where task = ${TASK} for update`)
    if (!mark) {
      await execute(tx, sql`insert into maintenance_marks (task, done_up_to) values (${TASK}, now()) on conflict do nothing`)
      return undefined
    }
    if (!mark.due) return undefined
    const [from, to] = [isoTime(new Date(mark.from)), isoTime(new Date(mark.to))]
    const counted = await countArrivals(tx, from, to)
    await execute(tx, sql`update maintenance_marks set done_up_to = ${to}::timestamptz where task = ${TASK}`)
    return counted
  })
}

/**
 * Counts the telemetry that arrived in [from, to) into its hours, in transaction `tx`; answers how
 * many readings. Exported for `npm run bench:insert`, which measures what it costs PostgreSQL.
 */
export async function countArrivals(tx: Tx, from: string, to: string): Promise<number> {
  await execute(tx, GROUPING_MEMORY)
  const [counted] = await execute<{ readings: string | number }>(tx, sql`
    with arrived as materialized (
      select device_id, ts, metrics from readings
      where received_at >= ${from}::timestamptz and received_at < ${to}::timestamptz and kind = 'telemetry'
    ), added as (
      insert into reading_rollups (device_id, metric, hour, count, min, max, sum, sum_sq)
      select a.device_id, m.key, date_bin('1 hour', a.ts, timestamptz 'epoch'), count(*), min(m.v), max(m.v), sum(m.v), sum(m.v * m.v)
      from arrived a, lateral (select key, value::float8 as v from jsonb_each(a.metrics) where jsonb_typeof(value) = 'number') m
      group by 1, 2, 3
      on conflict (device_id, metric, hour) do update set
        count = reading_rollups.count + excluded.count,
        min = least(reading_rollups.min, excluded.min),
        max = greatest(reading_rollups.max, excluded.max),
        sum = reading_rollups.sum + excluded.sum,
        sum_sq = reading_rollups.sum_sq + excluded.sum_sq
      returning 1
    )
    select (select count(*) from arrived) as readings, (select count(*) from added) as rows`)
  return Number(counted?.readings ?? 0)
}

/** Deletes rollups of hours before `cutoff`; returns how many. */
export async function expireRollups(database: Database, cutoff: number): Promise<number> {
  const [row] = await database.query<{ n: string | number }>(sql`
    with gone as (delete from reading_rollups where hour < ${isoTime(cutoff)}::timestamptz returning 1) select count(*) as n from gone`)
  return Number(row?.n ?? 0)
}

export type RollupHour = { metric: string; hour: string; count: number; min: number; max: number; mean: number; stddev: number }

/**
 * A device's hourly figures over [from, to) by event time, by metric then hour: the mean and the
 * (population) standard deviation come from the sums. Undefined for a device that is not registered.
 */
export async function readRollups(database: Database, q: { deviceId: string; metric?: string; from: Date; to: Date; limit: number }): Promise<RollupHour[] | undefined> {
  const [known] = await database.query(sql`select 1 from devices where id = ${q.deviceId}`)
  if (!known) return undefined
  const rows = await database.query<{ metric: string; hour: Date | string; count: number; min: number; max: number; sum: number; sum_sq: number }>(sql`
    select metric, hour, count, min, max, sum, sum_sq from reading_rollups
    where device_id = ${q.deviceId} and hour >= ${isoTime(q.from)}::timestamptz and hour < ${isoTime(q.to)}::timestamptz
      ${q.metric === undefined ? sql`` : sql`and metric = ${q.metric}`}
    order by metric, hour limit ${q.limit}`)
  return rows.map((r) => {
    const [count, sum, sumSq] = [Number(r.count), Number(r.sum), Number(r.sum_sq)]
    const mean = sum / count
    return {
      metric: r.metric, hour: isoTime(new Date(r.hour)), count, min: Number(r.min), max: Number(r.max), mean,
      // Rounding can take sumSq/count a hair below mean² when every value is the same.
      stddev: Math.sqrt(Math.max(0, sumSq / count - mean * mean)),
    }
  })
}
