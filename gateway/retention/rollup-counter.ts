import { sql } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import type { CommittedReading } from '../ingest/reading-writer.js'

const HOUR_MS = 3_600_000

/** Rows an upsert writes at most (one statement each; PGlite runs one statement at a time). */
const FLUSH_ROWS = 2000

/**
 * One device's, metric's and hour's figures counted since the last flush (`count` 0: none). It
 * carries its key so that a flush can write it as it is, as a row of `upsert`'s recordset.
 */
type Figures = { deviceId: string; metric: string; hour: number; count: number; min: number; max: number; sum: number; sumSq: number }

/**
 * Hourly rollups counted as readings commit: each telemetry metric of each newly stored reading
 * goes into its device's, metric's and event-time hour's figures in memory, and `flush` adds them
 * to `reading_rollups` (counts and sums add, min and max widen), so a reading that comes late
 * lands in its hour and several gateways add up. Counting here costs the gateway about a
 * microsecond a reading; counting in PostgreSQL from the stored rows cost it ~12 µs a reading, in
 * bursts (`npm run bench:insert`, bench/README.md). A flush that fails keeps its figures for the
 * next one. What a gateway counted since its last flush is lost if it crashes (the readings are
 * stored; their hours' rollups are short of them).
 *
 * A flush writes the figures themselves (serialised as it takes them, a chunk at a time) and zeroes
 * them rather than dropping them, so a device that reports again within the hour counts into the
 * same objects.
 * Rebuilt at every flush, with a row object each to write, each device's maps and figures lived up
 * to a pass, long enough to be copied out of the young generation and promoted: with 10,000
 * devices at 5,000 readings/s and a pass every 15 s, 530 → 333 bytes promoted a reading (`npm run
 * bench:alloc -- --promoted`, bench/README.md). An hour nothing counted into over a whole pass is
 * dropped by the next flush.
 */
export function createRollupCounter(database: Database) {
  // Device → hour → metric: a reading finds its device's hour with two lookups and each metric
  // with one, without building a key (a string key a metric cost ~1 µs a reading more).
  const pending = new Map<string, Map<number, Map<string, Figures>>>()
  // Figures with something counted since the last flush: the rows the next one writes.
  let size = 0

  function figuresOf(deviceId: string, hour: number): Map<string, Figures> {
    let hours = pending.get(deviceId)
    if (!hours) pending.set(deviceId, hours = new Map())
    let metrics = hours.get(hour)
    if (!metrics) hours.set(hour, metrics = new Map())
    return metrics
  }

  /**
   * Adds `count` values with these extremes and sums to a metric's figures: a new object only for
   * a new key; figures a flush has written (zeroed) start again from these.
   */
  function add(metrics: Map<string, Figures>, deviceId: string, hour: number, metric: string, count: number, min: number, max: number, sum: number, sumSq: number) {
    let f = metrics.get(metric)
    if (!f) metrics.set(metric, f = { deviceId, metric, hour, count: 0, min, max, sum: 0, sumSq: 0 })
    if (f.count === 0) {
      size++
      f.min = min
      f.max = max
    } else {
      if (min < f.min) f.min = min
      if (max > f.max) f.max = max
    }
    f.count += count
    f.sum += sum
    f.sumSq += sumSq
  }

  /** The figures with something counted, device by device; hours with nothing counted go as it passes them. */
  function* counted(): Generator<Figures> {
    for (const [deviceId, hours] of pending) {
      for (const [hour, metrics] of hours) {
        let any = false
        for (const f of metrics.values()) {
          if (f.count === 0) continue
          any = true
          yield f
        }
        if (!any) hours.delete(hour)
      }
      if (hours.size === 0) pending.delete(deviceId)
    }
  }

  /**
   * The next at most FLUSH_ROWS figures as `upsert`'s recordset (JSON), zeroed as they are taken.
   * One chunk at a time, so a large fleet's flush does not hold the event loop for all of it: with
   * 15,000 figures the flush's longest stretch on the loop was 9.9–33.5 ms when it built every row
   * before its first statement, 2.1–3.9 ms a chunk at a time (`npm run bench:insert`).
   */
  function takeChunk(figures: Generator<Figures>): { recordset: string; rows: number } | undefined {
    const chunk: Figures[] = []
    for (let next = figures.next(); !next.done; next = figures.next()) {
      chunk.push(next.value)
      if (chunk.length === FLUSH_ROWS) break
    }
    if (chunk.length === 0) return undefined
    const recordset = JSON.stringify(chunk)
    for (const f of chunk) f.count = f.sum = f.sumSq = 0
    size -= chunk.length
    return { recordset, rows: chunk.length }
  }

  return {
    /** Counts a committed batch's new readings (redeliveries are not in it). */
    count(batch: readonly CommittedReading[]): void {
      for (const r of batch) {
        if (r.kind !== 'telemetry' || !r.metrics) continue
        const hour = Math.floor(r.ts / HOUR_MS) * HOUR_MS
        const metrics = figuresOf(r.deviceId, hour)
        for (const metric in r.metrics) {
          const v = r.metrics[metric]
          if (typeof v === 'number' && Number.isFinite(v)) add(metrics, r.deviceId, hour, metric, 1, v, v, v, v * v)
        }
      }
    },

    /**
     * Adds what was counted since the last flush to `reading_rollups`, a chunk a statement; returns
     * how many rows it wrote. What counts meanwhile goes to this flush if its figures are not taken
     * yet, else to the next. A chunk that fails is counted back in, and what was not taken keeps
     * its counts, for the next flush.
     */
    async flush(): Promise<number> {
      if (size === 0) return 0
      const figures = counted()
      let written = 0
      for (let chunk = takeChunk(figures); chunk; chunk = takeChunk(figures)) {
        try {
          await upsert(database, chunk.recordset)
        } catch (err) {
          for (const f of JSON.parse(chunk.recordset) as Figures[]) add(figuresOf(f.deviceId, f.hour), f.deviceId, f.hour, f.metric, f.count, f.min, f.max, f.sum, f.sumSq)
          throw err
        }
        written += chunk.rows
      }
      return written
    },

    /** Device-metric-hours counted and not yet written. */
    get pending() {
      return size
    },

    /** Device-metric-hours held in memory, written or not (kept until a pass goes by without a reading for their hour). */
    get held() {
      let n = 0
      for (const hours of pending.values()) for (const metrics of hours.values()) n += metrics.size
      return n
    },
  }
}

export type RollupCounter = ReturnType<typeof createRollupCounter>

/** Adds a recordset of figures (see `takeChunk`) to `reading_rollups`. */
async function upsert(database: Database, recordset: string): Promise<void> {
  await database.query(sql`
    insert into reading_rollups (device_id, metric, hour, count, min, max, sum, sum_sq)
    select "deviceId", metric, timestamptz 'epoch' + hour * interval '1 millisecond', count, min, max, sum, "sumSq"
    from jsonb_to_recordset(${recordset}::jsonb)
      as x("deviceId" text, metric text, hour bigint, count integer, min float8, max float8, sum float8, "sumSq" float8)
    -- In key order, so two gateways flushing the same hours at once cannot deadlock.
    order by 1, 2, 3
    on conflict (device_id, metric, hour) do update set
      count = reading_rollups.count + excluded.count,
      min = least(reading_rollups.min, excluded.min),
      max = greatest(reading_rollups.max, excluded.max),
      sum = reading_rollups.sum + excluded.sum,
      sum_sq = reading_rollups.sum_sq + excluded.sum_sq`)
}
