import { sql } from 'drizzle-orm'
import { execute, type Database, type Tx } from '../db/database.js'
import { isoTime } from '../db/sql-time.js'

export const DAY_MS = 86_400_000

/** The start (UTC midnight, epoch ms) of the day `ms` falls in. */
export const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS

const PARTITION_NAME = /^readings_p(\d{4})(\d{2})(\d{2})$/

/** `readings_p20261206` holds the readings of 2026-12-06 (UTC) by event time. */
export const partitionName = (day: number) => `readings_p${isoTime(day).slice(0, 10).replaceAll('-', '')}`

/** The days (their start, epoch ms) that have a partition of `readings`, oldest first. */
export async function dayPartitions(tx: Tx): Promise<number[]> {
  const rows = await execute<{ name: string }>(tx, sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'readings'::regclass`)
  return rows.flatMap(({ name }) => {
    const m = PARTITION_NAME.exec(name)
    return m ? [Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))] : []
  }).sort((a, b) => a - b)
}

/** Days from `since` on that the default partition holds readings of (no partition of their own yet). */
export async function daysInDefault(tx: Tx, since: number): Promise<number[]> {
  const rows = await execute<{ day: string | number }>(tx, sql`
    select distinct (floor(extract(epoch from ts) / 86400) * 86400000)::bigint as day from readings_default where ts >= ${isoTime(since)}::timestamptz`)
  return rows.map((r) => Number(r.day)).sort((a, b) => a - b)
}

/**
 * Gives `day` its partition, taking over the day's readings from the default partition: created
 * on its own and attached, which holds `readings` only in SHARE UPDATE EXCLUSIVE mode (ingest goes
 * on), where CREATE TABLE … PARTITION OF would lock out every insert while it ran. Returns how
 * many readings it took over.
 */
export async function addDayPartition(tx: Tx, day: number): Promise<number> {
  const name = partitionName(day)
  const [from, to] = [isoTime(day), isoTime(day + DAY_MS)]
  await execute(tx, sql.raw(`create table ${name} (like readings including defaults)`))
  const [moved] = await execute<{ n: string | number }>(tx, sql.raw(`
    with moved as (delete from readings_default where ts >= '${from}' and ts < '${to}' returning *),
      taken as (insert into ${name} select * from moved returning 1)
    select count(*) as n from taken`))
  await execute(tx, sql.raw(`alter table readings attach partition ${name} for values from ('${from}') to ('${to}')`))
  return Number(moved?.n ?? 0)
}

/** Drops a day's partition: its readings go at once, with no rows to delete or vacuum. */
export async function dropDayPartition(tx: Tx, day: number): Promise<void> {
  await execute(tx, sql.raw(`drop table ${partitionName(day)}`))
}

/** Deletes what the default partition holds from before `cutoff`; returns how many readings. */
export async function expireDefault(tx: Tx, cutoff: number): Promise<number> {
  const [row] = await execute<{ n: string | number }>(tx, sql`
    with gone as (delete from readings_default where ts < ${isoTime(cutoff)}::timestamptz returning 1) select count(*) as n from gone`)
  return Number(row?.n ?? 0)
}

/** Days ahead of today that have their partition ready, so midnight never sends readings to the default one. */
const DAYS_AHEAD = 2

/** How long a pass waits for a lock on `readings` before giving up until the next pass (ingest must not queue behind it). */
const LOCK_TIMEOUT = sql.raw(`set local lock_timeout = '5s'`)

// Several gateway instances may share the database: one of them keeps the partitions at a time.
const PARTITIONS_LOCK = sql`select pg_try_advisory_xact_lock(hashtext('precall.readings_partitions')) as locked`

export type PartitionChanges = { added: number; dropped: number; moved: number; expired: number }

/**
 * Gives `readings` a partition for each day of event time from yesterday to `DAYS_AHEAD` days
 * after `at`, and for any earlier day still kept that the default partition holds readings of;
 * drops the partitions whose whole day is more than `keepMs` before `at`, and deletes what the
 * default partition holds from before then. Every change in one transaction, or none; nothing
 * when another gateway is doing it.
 */
export async function keepDayPartitions(database: Database, at: number, keepMs: number): Promise<PartitionChanges> {
  const changes = { added: 0, dropped: 0, moved: 0, expired: 0 }
  const cutoff = at - keepMs
  await database.db.transaction(async (tx) => {
    const [{ locked }] = await execute<{ locked: boolean }>(tx, PARTITIONS_LOCK)
    if (!locked) return
    await execute(tx, LOCK_TIMEOUT)
    const have = new Set(await dayPartitions(tx))
    const wanted = new Set<number>()
    for (let day = dayOf(at) - DAY_MS; day <= dayOf(at) + DAYS_AHEAD * DAY_MS; day += DAY_MS) wanted.add(day)
    for (const day of await daysInDefault(tx, dayOf(cutoff))) wanted.add(day)
    for (const day of [...wanted].sort((a, b) => a - b)) {
      if (have.has(day)) continue
      changes.moved += await addDayPartition(tx, day)
      changes.added++
    }
    for (const day of have) {
      if (day + DAY_MS > cutoff) continue
      await dropDayPartition(tx, day)
      changes.dropped++
    }
    changes.expired = await expireDefault(tx, cutoff)
  })
  return changes
}
