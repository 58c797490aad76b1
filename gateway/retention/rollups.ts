import { sql } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { isoTime } from '../db/sql-time.js'

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
