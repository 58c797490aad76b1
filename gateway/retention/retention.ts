import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import { execute, type Database } from '../db/database.js'
import type { Metrics } from '../metrics.js'
import { createPeriodicPass } from '../periodic-pass.js'
import { DAY_MS, addDayPartition, dayOf, dayPartitions, daysInDefault, dropDayPartition, expireDefault } from './partitions.js'
import { createRollupCounter } from './rollup-counter.js'
import { expireRollups } from './rollups.js'

/** Days ahead of today that have their partition ready, so midnight never sends readings to the default one. */
const DAYS_AHEAD = 2

/** How long a pass waits for a lock on `readings` before giving up until the next pass (ingest must not queue behind it). */
const LOCK_TIMEOUT = sql.raw(`set local lock_timeout = '5s'`)

// Several gateway instances may share the database: one of them keeps the partitions at a time.
const PARTITIONS_LOCK = sql`select pg_try_advisory_xact_lock(hashtext('precall.readings_partitions')) as locked`

export type PartitionChanges = { added: number; dropped: number; moved: number; expired: number }
export type RetentionPass = PartitionChanges & { rollupsWritten: number; rollupsExpired: number }

/**
 * Keeps `readings` a rolling log (DESIGN: "Readings are a rolling log, not an archive"): a
 * partition for each day of event time from yesterday to `DAYS_AHEAD` days ahead, and for any
 * earlier day still kept that the default partition holds readings of; partitions whose whole day
 * is older than the retention window dropped; the hourly rollups counted since the last pass
 * written (see createRollupCounter), and those past their own, longer window deleted. Ingest
 * refuses readings older than the window (decode's `past_retention`): nothing it stores is
 * already due to go.
 */
export function createRetention(opts: { database: Database; metrics: Metrics; policy: Config['retention']; log: Logger; now?: () => number }) {
  const { database, metrics, policy, log } = opts
  const now = opts.now ?? Date.now

  /** Adds and drops day partitions as of `at`; every change in one transaction, or none. */
  async function keepPartitions(at: number): Promise<PartitionChanges> {
    const changes = { added: 0, dropped: 0, moved: 0, expired: 0 }
    const cutoff = at - policy.readingsMs
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
    metrics.readingsPartitionsAdded.inc(changes.added)
    metrics.readingsPartitionsDropped.inc(changes.dropped)
    metrics.readingsExpired.inc(changes.expired)
    return changes
  }

  const rollups = createRollupCounter(database)

  /** Writes the rollups counted so far; a failure keeps them for the next flush. */
  async function flushRollups(): Promise<number> {
    const written = await rollups.flush()
    metrics.rollupsWritten.inc(written)
    return written
  }

  /** One pass; tests call it with their own clock. */
  async function runOnce(): Promise<RetentionPass> {
    const at = now()
    const rollupsWritten = await flushRollups()
    const partitions = await keepPartitions(at)
    const rollupsExpired = await expireRollups(database, at - policy.rollupsMs)
    const pass = { ...partitions, rollupsWritten, rollupsExpired }
    if (partitions.added + partitions.dropped + partitions.expired + rollupsExpired > 0) log.info(pass, 'readings retention pass')
    return pass
  }

  const periodic = createPeriodicPass(runOnce, policy.pollMs, (err) => {
    metrics.retentionFailures.inc()
    log.error({ err }, 'readings retention pass failed; the next pass tries again')
  })

  return {
    runOnce,
    /** Counts newly committed readings into the hourly rollups the next pass writes. */
    count: rollups.count,
    /** At shutdown, after the last commit: writes what was counted. */
    flushRollups,
    /** At start-up, before ingest: the partitions of today and the days around it. */
    prepare: (): Promise<PartitionChanges> => keepPartitions(now()),
    start: periodic.start,
    stop: periodic.stop,
  }
}

export type Retention = ReturnType<typeof createRetention>
