import { sql, type SQL } from 'drizzle-orm'
import { rejections } from '../db/schema.js'
import { sqlState, type Database } from '../db/database.js'
import type { Metrics } from '../metrics.js'
import type { RejectReason, StoredReading } from './decode.js'
import { createAdmission, DEFAULT_MAX_PENDING } from './admission.js'
import { createGroupCommit, type Done } from './group-commit.js'

export type CommittedReading = StoredReading & { id: number }
export type AppendResult = 'stored' | 'duplicate'

const PAYLOAD_EXCERPT = 2048

/**
 * How long a committed batch's acknowledgements may hold the event loop before it turns (see
 * createGroupCommit's `answerBudgetMs`): each also reads the device's next packets, ~40 µs with
 * 5,000 devices. All at once, a saturated gateway's turns grew to hundreds of milliseconds, and a
 * fault, a handful of round trips from its reading to its webhook, waited seconds behind them.
 * Stepped bench, 5,000 devices, QoS 1, the fault→alert p99 a step must keep under 1 s: 16.8k
 * readings/s sustained before, 20.1k at 5 ms and 22.7k at 10 ms; 1,000 devices: 36.2k before,
 * 43.2k and 42.0k (bench/README.md). A fixed slice of 100 readings a turn capped every fleet
 * size at ~24k.
 */
const ANSWER_BUDGET_MS = 5

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
  /** Most readings held appended and not yet answered before admission holds devices back (see createAdmission). */
  maxPending?: number
  /** How long device reads may hold a turn of the event loop before admission holds the rest (see createAdmission). */
  readBudgetMs?: number
  onCommitted(readings: CommittedReading[]): void
  /** `onCommitted` threw (a bug downstream): counted, and handed here to be logged. */
  onCommittedError?(err: unknown): void
}) {
  const { database, metrics } = opts

  // The appended reading becomes the committed one (the writer owns it once appended): the flush
  // sets the id the database gave it, and a reading already stored under the same key (a
  // redelivery) stays without one. Copying each reading only to add its id cost ~1 µs a reading.
  const commits = createGroupCommit<StoredReading, AppendResult>({
    maxBatch: opts.maxBatch,
    concurrency: opts.concurrency,
    lingerMs: opts.lingerMs,
    answerBudgetMs: ANSWER_BUDGET_MS,
    onBatch: (size, seconds) => {
      metrics.ingestBatchSize.observe(size)
      metrics.ingestCommitSeconds.observe(seconds)
      metrics.ingestQueued.set(commits.queued)
    },
    onFailedBatch: (size) => metrics.readingsStoreFailed.inc(size),
    onAnswered: () => admission.release(),
    async flush(batch) {
      const ids = await insertReadings(database, batch)
      return batch.map((reading, i): AppendResult => {
        const id = ids[i]
        if (id === undefined) return 'duplicate'
        const committed = reading as CommittedReading
        committed.id = Number(id)
        return 'stored'
      })
    },
    afterFlush(batch, results) {
      const committed = batch.filter((_, i) => results[i] === 'stored') as CommittedReading[]
      const perKind = new Map<string, number>()
      for (const r of committed) perKind.set(r.kind, (perKind.get(r.kind) ?? 0) + 1)
      for (const [kind, n] of perKind) metrics.readingsAccepted.inc({ kind }, n)
      if (committed.length < batch.length) metrics.readingsDuplicate.inc(batch.length - committed.length)
      if (committed.length > 0) opts.onCommitted(committed)
    },
    onHookError(err) {
      metrics.afterCommitErrors.inc()
      opts.onCommittedError?.(err)
    },
  })

  const admission = createAdmission({ limit: opts.maxPending ?? DEFAULT_MAX_PENDING, readBudgetMs: opts.readBudgetMs, unanswered: () => commits.unanswered, metrics })

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
    /**
     * Hands `reading` over: once stored it is the committed reading, with its `id` set. `done`
     * runs after the commit (see createGroupCommit's `add`).
     */
    append: (reading: StoredReading, done: Done<AppendResult>): void => commits.add(reading, done),
    /** A connection's reads: its next packets now, or once fewer than `maxPending` readings are unanswered and the turn's read budget allows (see createAdmission). */
    admitter: admission.admitter,
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

/**
 * Stores a batch with one statement and answers the id each reading got, by its position in the
 * batch; a reading already stored, or a second copy within the batch, gets none and counts as a
 * redelivery.
 *
 * A plain INSERT goes first. Nearly every reading is new, and ON CONFLICT's speculative insertion
 * (a check before each row, a confirmation after it) cost PostgreSQL 2–3 µs more a row (`npm run
 * bench:insert`). A batch holding a redelivery fails as a whole on the dedup index, leaving
 * nothing behind but one "duplicate key" line in the server's log, and goes again skipping
 * duplicates; so does a batch whose copy of a reading another batch was storing at the same time.
 */
export async function insertReadings(database: Database, batch: StoredReading[]): Promise<(string | undefined)[]> {
  // As jsonb the batch is parsed once; as json, each reading's metrics were parsed a second time
  // into their jsonb column (0.6–1.3 µs a row more, `npm run bench:insert`).
  const rows = sql`jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)`
  let stored: { id: string }[]
  try {
    stored = await database.query<{ id: string }>(appendStatement(rows))
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err
    const ids: (string | undefined)[] = new Array(batch.length)
    for (const row of await database.query<{ n: number; id: string }>(insertStatement(rows, sql`on conflict do nothing`))) ids[row.n - 1] = row.id
    return ids
  }
  return positions(batch.length, stored)
}

const UNIQUE_VIOLATION = '23505'

/**
 * A reading in the batch, as `jsonb_to_recordset` reads it. Event time travels as epoch ms (the
 * gateway's side of `readings.ts`, see `eventTime` in schema.ts) and becomes a timestamptz in the
 * statement (exactly: whole milliseconds times an interval). As a Date it was allocated in decode
 * and serialised by `toISOString`: `npm run bench:insert` ('Date ts') has the client's CPU at
 * 5.9–7.3 against 5.0–6.4 µs a row, PostgreSQL's the same.
 */
const BATCH_COLUMNS = sql.raw('("deviceId" text, kind text, ts bigint, seq bigint, "dedupKey" text, metrics jsonb, state text, code text, detail jsonb)')
const EVENT_TIME = sql.raw(`timestamptz 'epoch' + x.ts * interval '1 millisecond'`)

/**
 * The plain INSERT: every reading of the batch is new, so each gets a row, numbered from the
 * id sequence in the order they are inserted: batch order. Matching rows to readings in the
 * database instead (the join in `insertStatement`) cost PostgreSQL ~6 µs a row.
 */
export function appendStatement(rows: SQL, returning: SQL = sql`id`) {
  return sql`
    insert into readings (device_id, kind, ts, seq, dedup_key, metrics, state, code, detail)
    select device_id, kind, ${EVENT_TIME}, seq, dedup_key, metrics, state, code, detail from rows from (${rows} as ${BATCH_COLUMNS})
      with ordinality as x(device_id, kind, ts, seq, dedup_key, metrics, state, code, detail, n)
    order by n
    returning ${returning}`
}

/**
 * The plain INSERT's ids by position in the batch. A sequence only grows, and the insert took its
 * ids in batch order, so the ids in ascending order are the batch's. PostgreSQL does not promise
 * that RETURNING answers in the order rows were inserted, so ids that do not come ascending are
 * sorted. (Until 2026-12-06 each row came back with its device and dedup key, to be matched to
 * its reading by them: PostgreSQL 0.4–1.0 µs a row more in every round, `npm run bench:insert`,
 * 'keys returned'.)
 */
export function positions(batchLength: number, stored: { id: string }[]): string[] {
  if (stored.length !== batchLength) throw new Error(`the insert answered ${stored.length} rows for a batch of ${batchLength}`)
  const ids = stored.map((row) => row.id)
  let previous = -Infinity
  for (const id of ids) {
    const n = Number(id)
    if (n <= previous) return ids.sort((a, b) => Number(a) - Number(b))
    previous = n
  }
  return ids
}

/**
 * The insert that skips what is already stored, from `rows`: a set-returning call over the batch
 * as one parameter (so the parameter count stays fixed and the query text is the same for every
 * batch size), read with the columns below, and joined back to the batch to tell which readings
 * it stored. Exported for `npm run bench:insert`, which runs the statements it replaced.
 */
export function insertStatement(rows: SQL, onConflict: SQL) {
  return sql`
    with x as (
      select device_id, kind, ${EVENT_TIME} as ts, seq, dedup_key, metrics, state, code, detail, n from rows from (${rows} as ${BATCH_COLUMNS})
        with ordinality as x(device_id, kind, ts, seq, dedup_key, metrics, state, code, detail, n)
    ), stored as (
      insert into readings (device_id, kind, ts, seq, dedup_key, metrics, state, code, detail)
      select device_id, kind, ts, seq, dedup_key, metrics, state, code, detail from x
      ${onConflict}
      returning id, device_id, kind, ts, dedup_key
    )
    select min(x.n)::int as n, stored.id from stored join x using (device_id, kind, ts, dedup_key) group by stored.id`
}
