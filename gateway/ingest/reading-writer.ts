import { sql } from 'drizzle-orm'
import { rejections } from '../db/schema.js'
import type { Database } from '../db/database.js'
import type { Metrics } from '../metrics.js'
import type { RejectReason, StoredReading } from './decode.js'
import { createGroupCommit } from './group-commit.js'

export type CommittedReading = StoredReading & { id: number }
export type AppendResult = 'stored' | 'duplicate'

const keyOf = (r: { deviceId: string; kind: string; ts: Date; dedupKey: string }) => `${r.deviceId}\u0000${r.kind}\u0000${r.ts.getTime()}\u0000${r.dedupKey}`
const PAYLOAD_EXCERPT = 2048

/**
 * Durable append of readings, many devices' messages per INSERT. `append` resolves only after the
 * row is committed, which is what lets the broker PUBACK afterwards. Newly stored readings (not
 * redeliveries) go to `onCommitted` in arrival order, for rule evaluation.
 */
export function createReadingWriter(opts: {
  database: Database
  metrics: Metrics
  maxBatch: number
  /** Flushes in flight at once: PostgreSQL overlaps them on its pool, PGlite has one connection. */
  concurrency?: number
  /** How long a batch that is not full waits for more (see createGroupCommit). */
  lingerMs?: number
  onCommitted(readings: CommittedReading[]): void
}) {
  const { database, metrics } = opts

  // Readings already stored under the same key (redeliveries) come back without an id.
  const commits = createGroupCommit<StoredReading, number | undefined>({
    maxBatch: opts.maxBatch,
    concurrency: opts.concurrency,
    lingerMs: opts.lingerMs,
    onBatch: (size, seconds) => {
      metrics.ingestBatchSize.observe(size)
      metrics.ingestCommitSeconds.observe(seconds)
    },
    async flush(batch) {
      const keys = batch.map(keyOf)
      const firstOfKey = new Map<string, number>()
      keys.forEach((k, i) => { if (!firstOfKey.has(k)) firstOfKey.set(k, i) })
      const unique = firstOfKey.size === batch.length ? batch : [...firstOfKey.values()].map((i) => batch[i])
      const inserted = await insertReadings(database, unique)
      const idOfKey = new Map(inserted.map((r) => [`${r.device_id}\u0000${r.kind}\u0000${Date.parse(r.ts)}\u0000${r.dedup_key}`, Number(r.id)]))
      return keys.map((k, i) => (firstOfKey.get(k) === i ? idOfKey.get(k) : undefined))
    },
    afterFlush(batch, ids) {
      const committed: CommittedReading[] = []
      batch.forEach((r, i) => { if (ids[i] !== undefined) committed.push({ ...r, id: ids[i] }) })
      for (const r of committed) metrics.readingsAccepted.inc({ kind: r.kind })
      if (committed.length < batch.length) metrics.readingsDuplicate.inc(batch.length - committed.length)
      if (committed.length > 0) opts.onCommitted(committed)
    },
  })

  type Rejection = { deviceId: string | null; topic: string; reason: RejectReason | string; detail: string; payload: Buffer | null }
  const rejectionLog = createGroupCommit<Rejection, void>({
    maxBatch: 500,
    async flush(batch) {
      await database.db.insert(rejections).values(batch.map((r) => ({
        deviceId: r.deviceId, topic: r.topic.slice(0, 256), reason: r.reason, detail: r.detail.slice(0, 1024),
        payload: r.payload ? r.payload.subarray(0, PAYLOAD_EXCERPT).toString('utf8').replaceAll('\u0000', '') : null,
      })))
      return batch.map(() => undefined)
    },
  })

  return {
    append: async (reading: StoredReading): Promise<AppendResult> => ((await commits.submit(reading)) === undefined ? 'duplicate' : 'stored'),
    /** Keeps a refused message (truncated) with its reason, so bad input is inspectable, not lost. */
    recordRejection: (r: Rejection) => rejectionLog.submit(r),
    async idle() {
      await Promise.all([commits.idle(), rejectionLog.idle()])
    },
    get queued() {
      return commits.queued
    },
  }
}

export type ReadingWriter = ReturnType<typeof createReadingWriter>

type InsertedRow = { id: string | number; device_id: string; kind: string; ts: string; dedup_key: string }

/**
 * One statement for the whole batch, with one JSON parameter instead of nine per row: the
 * parameter count stays fixed and the query text is the same for every batch size.
 */
function insertReadings(database: Database, batch: StoredReading[]): Promise<InsertedRow[]> {
  const rows = JSON.stringify(batch.map((r) => ({
    device_id: r.deviceId, kind: r.kind, ts: r.ts.toISOString(), seq: r.seq, dedup_key: r.dedupKey,
    metrics: r.metrics, state: r.state, code: r.code, detail: r.detail,
  })))
  return database.query<InsertedRow>(sql`
    insert into readings (device_id, kind, ts, seq, dedup_key, metrics, state, code, detail)
    select device_id, kind, ts, seq, dedup_key, metrics, state, code, detail
    from jsonb_to_recordset(${rows}::jsonb) as x(device_id text, kind text, ts timestamptz, seq bigint, dedup_key text, metrics jsonb, state text, code text, detail jsonb)
    on conflict do nothing
    returning id, device_id, kind, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ts, dedup_key`)
}
