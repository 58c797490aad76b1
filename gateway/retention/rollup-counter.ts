import { sql } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import type { CommittedReading } from '../ingest/reading-writer.js'

const HOUR_MS = 3_600_000

/** Rows an upsert writes at most (one statement each; PGlite runs one statement at a time). */
const FLUSH_ROWS = 2000

/** One device's, metric's and hour's figures so far. */
type Figures = { count: number; min: number; max: number; sum: number; sumSq: number }
type Row = Figures & { deviceId: string; metric: string; hour: number }

/**
 * Hourly rollups counted as readings commit: each telemetry metric of each newly stored reading
 * goes into its device's, metric's and event-time hour's figures in memory, and `flush` adds them
 * to `reading_rollups` (counts and sums add, min and max widen), so a reading that comes late
 * lands in its hour and several gateways add up. Counting here costs the gateway about a
 * microsecond a reading; counting in PostgreSQL from the stored rows cost it ~12 µs a reading, in
 * bursts (`npm run bench:insert`, bench/README.md). A flush that fails keeps its figures for the
 * next one. What a gateway counted since its last flush is lost if it crashes (the readings are
 * stored; their hours' rollups are short of them).
 */
export function createRollupCounter(database: Database) {
  // Device → hour → metric: a reading finds its device's hour with two lookups and each metric
  // with one, without building a key (a string key a metric cost ~1 µs a reading more).
  let pending = new Map<string, Map<number, Map<string, Figures>>>()
  let size = 0

  function figuresOf(deviceId: string, hour: number): Map<string, Figures> {
    let hours = pending.get(deviceId)
    if (!hours) pending.set(deviceId, hours = new Map())
    let metrics = hours.get(hour)
    if (!metrics) hours.set(hour, metrics = new Map())
    return metrics
  }

  /** Adds `count` values with these extremes and sums to a metric's figures (a new object only for a new key). */
  function add(metrics: Map<string, Figures>, metric: string, count: number, min: number, max: number, sum: number, sumSq: number) {
    const had = metrics.get(metric)
    if (!had) {
      metrics.set(metric, { count, min, max, sum, sumSq })
      size++
      return
    }
    had.count += count
    had.sum += sum
    had.sumSq += sumSq
    if (min < had.min) had.min = min
    if (max > had.max) had.max = max
  }

  return {
    /** Counts a committed batch's new readings (redeliveries are not in it). */
    count(batch: readonly CommittedReading[]): void {
      for (const r of batch) {
        if (r.kind !== 'telemetry' || !r.metrics) continue
        const metrics = figuresOf(r.deviceId, Math.floor(r.ts / HOUR_MS) * HOUR_MS)
        for (const metric in r.metrics) {
          const v = r.metrics[metric]
          if (typeof v === 'number' && Number.isFinite(v)) add(metrics, metric, 1, v, v, v, v * v)
        }
      }
    },

    /** Adds what was counted since the last flush to `reading_rollups`; returns how many rows it wrote. */
    async flush(): Promise<number> {
      if (size === 0) return 0
      const rows: Row[] = []
      for (const [deviceId, hours] of pending) {
        for (const [hour, metrics] of hours) for (const [metric, f] of metrics) rows.push({ deviceId, metric, hour, ...f })
      }
      pending = new Map()
      size = 0
      let written = 0
      try {
        for (; written < rows.length; written += FLUSH_ROWS) await database.query(upsert(rows.slice(written, written + FLUSH_ROWS)))
      } catch (err) {
        for (const r of rows.slice(written)) add(figuresOf(r.deviceId, r.hour), r.metric, r.count, r.min, r.max, r.sum, r.sumSq)
        throw err
      }
      return rows.length
    },

    /** Device-metric-hours counted and not yet written. */
    get pending() {
      return size
    },
  }
}

export type RollupCounter = ReturnType<typeof createRollupCounter>

function upsert(rows: Row[]) {
  return sql`
    insert into reading_rollups (device_id, metric, hour, count, min, max, sum, sum_sq)
    select "deviceId", metric, timestamptz 'epoch' + hour * interval '1 millisecond', count, min, max, sum, "sumSq"
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as x("deviceId" text, metric text, hour bigint, count integer, min float8, max float8, sum float8, "sumSq" float8)
    -- In key order, so two gateways flushing the same hours at once cannot deadlock.
    order by 1, 2, 3
    on conflict (device_id, metric, hour) do update set
      count = reading_rollups.count + excluded.count,
      min = least(reading_rollups.min, excluded.min),
      max = greatest(reading_rollups.max, excluded.max),
      sum = reading_rollups.sum + excluded.sum,
      sum_sq = reading_rollups.sum_sq + excluded.sum_sq`
}
