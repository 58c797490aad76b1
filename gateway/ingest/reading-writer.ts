import { readings, rejections } from '../db/schema.js'
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
  onCommitted(readings: CommittedReading[]): void
}) {
  const { database, metrics } = opts

  const commits = createGroupCommit<StoredReading, AppendResult>({
    maxBatch: opts.maxBatch,
    onBatch: (size, seconds) => {
      metrics.ingestBatchSize.observe(size)
      metrics.ingestCommitSeconds.observe(seconds)
    },
    async flush(batch) {
      const firstOfKey = new Map<string, number>()
      batch.forEach((r, i) => { if (!firstOfKey.has(keyOf(r))) firstOfKey.set(keyOf(r), i) })
      const unique = [...firstOfKey.values()].map((i) => batch[i])
      const inserted = await database.db
        .insert(readings)
        .values(unique)
        .onConflictDoNothing()
        .returning({ id: readings.id, deviceId: readings.deviceId, kind: readings.kind, ts: readings.ts, dedupKey: readings.dedupKey })
      const idOfKey = new Map(inserted.map((r) => [keyOf(r), r.id]))
      const committed: CommittedReading[] = []
      const results = batch.map((r, i): AppendResult => {
        const key = keyOf(r)
        const id = idOfKey.get(key)
        if (id === undefined || firstOfKey.get(key) !== i) return 'duplicate'
        committed.push({ ...r, id })
        return 'stored'
      })
      for (const r of committed) metrics.readingsAccepted.inc({ kind: r.kind })
      metrics.readingsDuplicate.inc(batch.length - committed.length)
      if (committed.length > 0) opts.onCommitted(committed)
      return results
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
    append: (reading: StoredReading) => commits.submit(reading),
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
