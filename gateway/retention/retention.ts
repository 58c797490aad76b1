import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import type { Metrics } from '../metrics.js'
import { createPeriodicPass } from '../periodic-pass.js'
import { keepDayPartitions, type PartitionChanges } from './partitions.js'
import { createRollupCounter } from './rollup-counter.js'
import { expireRollups } from './rollups.js'

export type RetentionPass = PartitionChanges & { rollupsWritten: number; rollupsExpired: number }

/**
 * Keeps `readings` a rolling log (DESIGN: "Readings are a rolling log, not an archive"): its day
 * partitions (see keepDayPartitions); the hourly rollups counted since the last pass
 * written (see createRollupCounter), and those past their own, longer window deleted. Ingest
 * refuses readings older than the window (decode's `past_retention`): nothing it stores is
 * already due to go.
 */
export function createRetention(opts: { database: Database; metrics: Metrics; policy: Config['retention']; log: Logger; now?: () => number }) {
  const { database, metrics, policy, log } = opts
  const now = opts.now ?? Date.now

  /** Adds and drops day partitions as of `at`, and counts what changed. */
  async function keepPartitions(at: number): Promise<PartitionChanges> {
    const changes = await keepDayPartitions(database, at, policy.readingsMs)
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
