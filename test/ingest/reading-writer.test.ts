import { asc, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { readings } from '../../gateway/db/schema.js'
import type { StoredReading } from '../../gateway/ingest/decode.js'
import { createReadingWriter, positions, type AppendResult, type CommittedReading, type ReadingWriter } from '../../gateway/ingest/reading-writer.js'
import { createMetrics } from '../../gateway/metrics.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'

const reading = (seq: number, over: Partial<StoredReading> = {}): StoredReading => ({
  deviceId: 'rw-1', kind: 'telemetry', ts: Date.UTC(2026, 10, 24, 9, 0, seq) + 100 * seq + 7, seq, dedupKey: `s${seq}`,
  metrics: { drain_time_s: 40 + seq }, state: null, code: null, detail: null, ...over,
})

/** What `append` calls back with, as a promise. */
const appended = (writer: ReadingWriter, r: StoredReading) =>
  new Promise<AppendResult>((resolve, reject) => writer.append(r, (err, result) => (err === null ? resolve(result!) : reject(err))))

describe.each(BACKENDS)('reading writer on %s', (backend) => {
  let database: Database
  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })

  it('stores one batch in arrival order, and tells redeliveries (also within the batch) from new readings', async () => {
    const metrics = createMetrics()
    const committed: CommittedReading[][] = []
    // A long linger puts everything submitted below into one batch.
    const writer = createReadingWriter({ database, metrics, maxBatch: 100, lingerMs: 50, onCommitted: (b) => committed.push(b) })
    await appended(writer, reading(1))
    await writer.idle()

    const event = reading(3, { kind: 'event', seq: null, dedupKey: 'h-abc', metrics: null, code: 'E21', detail: { door: 'open' } })
    const results = await Promise.all([
      appended(writer, reading(2)),
      appended(writer, reading(1)), // stored by the earlier batch
      appended(writer, event),
      appended(writer, reading(2)), // the same reading twice in one batch
      appended(writer, reading(4, { dedupKey: 's2' })), // the same dedup key at another time: new
    ])
    expect(results).toEqual(['stored', 'duplicate', 'stored', 'duplicate', 'stored'])
    expect(committed).toHaveLength(2)
    const [second] = committed.slice(1)
    expect(second.map((r) => [r.kind, r.dedupKey, new Date(r.ts).toISOString()])).toEqual([
      ['telemetry', 's2', '2026-11-24T09:00:02.207Z'],
      ['event', 'h-abc', '2026-11-24T09:00:03.307Z'],
      ['telemetry', 's2', '2026-11-24T09:00:04.407Z'],
    ])

    // Each committed reading carries the id the database gave it.
    const rows = await database.db.select({ id: readings.id, ts: readings.ts, seq: readings.seq, detail: readings.detail }).from(readings).orderBy(asc(readings.id))
    expect(rows.map((r) => r.id)).toEqual([committed[0][0].id, ...second.map((r) => r.id)])
    // Event time is stored to the millisecond, by the plain insert (the first batch) and by the
    // retry that skips duplicates (the second).
    expect(rows.map((r) => new Date(r.ts).toISOString())).toEqual(['2026-11-24T09:00:01.107Z', '2026-11-24T09:00:02.207Z', '2026-11-24T09:00:03.307Z', '2026-11-24T09:00:04.407Z'])
    expect(rows.map((r) => r.seq)).toEqual([1, 2, null, 4])
    expect(rows[2].detail).toEqual({ door: 'open' })
    expect(await metricValue(metrics, 'precall_readings_duplicate_total')).toBe(2)
    const [{ n }] = await database.query<{ n: number }>(sql`select count(*)::int as n from readings`)
    expect(n).toBe(4)
  })

  // Side by side, flushes take ids from the sequence in turns: each batch's still grow in its order.
  it.each([
    { maxBatch: 100, concurrency: 1, prefix: 'rw-ids-' },
    { maxBatch: 10, concurrency: 4, prefix: 'rw-ids4-' },
  ])('gives each reading of new ones the id of its own row (batches of $maxBatch, $concurrency at once)', async ({ maxBatch, concurrency, prefix }) => {
    const committed: CommittedReading[] = []
    const writer = createReadingWriter({ database, metrics: createMetrics(), maxBatch, concurrency, lingerMs: 50, onCommitted: (b) => committed.push(...b) })
    const batch = Array.from({ length: 40 }, (_, i) => reading(100 + i, { deviceId: `${prefix}${i % 7}`, metrics: { drain_time_s: i } }))
    expect(await Promise.all(batch.map((r) => appended(writer, r)))).toEqual(batch.map(() => 'stored'))

    expect(committed).toHaveLength(40)
    const rows = await database.query<{ id: string; device_id: string; seq: string; drain: number }>(
      sql`select id, device_id, seq, (metrics->>'drain_time_s')::int as drain from readings where device_id like ${prefix + '%'}`)
    const byId = new Map(rows.map((r) => [Number(r.id), r]))
    for (const r of committed) {
      const row = byId.get(r.id)
      expect([row?.device_id, Number(row?.seq), row?.drain]).toEqual([r.deviceId, r.seq, r.metrics!.drain_time_s])
    }
  })

  it('stores a reading once when two batches in flight at the same time both carry it', async () => {
    const metrics = createMetrics()
    const committed: CommittedReading[] = []
    // Batches of one, two at a time: on PostgreSQL the second copy waits on the first's commit.
    const writer = createReadingWriter({ database, metrics, maxBatch: 1, concurrency: 2, onCommitted: (b) => committed.push(...b) })
    const twin = reading(10, { deviceId: 'rw-2' })
    const results = await Promise.all([appended(writer, twin), appended(writer, { ...twin }), appended(writer, reading(11, { deviceId: 'rw-2' }))])

    expect([...results].sort()).toEqual(['duplicate', 'stored', 'stored'])
    expect(committed.map((r) => r.seq).sort()).toEqual([10, 11])
    const rows = await database.query<{ seq: number }>(sql`select seq::int from readings where device_id = 'rw-2' order by seq`)
    expect(rows.map((r) => r.seq)).toEqual([10, 11])
    expect(await metricValue(metrics, 'precall_readings_duplicate_total')).toBe(1)
  })

  it('goes on storing and acknowledging when what runs after a commit throws, and counts it', async () => {
    const metrics = createMetrics()
    const failures: unknown[] = []
    const committed: number[] = []
    const writer = createReadingWriter({
      database, metrics, maxBatch: 2, concurrency: 2,
      onCommitted: (b) => {
        if (b.some((r) => r.seq === 201)) throw new Error('a rule bug')
        committed.push(...b.map((r) => r.seq!))
      },
      onCommittedError: (err) => failures.push(err),
    })
    const results = await Promise.all([201, 202, 203, 204, 205].map((seq) => appended(writer, reading(seq, { deviceId: 'rw-3' }))))
    expect(results).toEqual(['stored', 'stored', 'stored', 'stored', 'stored'])
    expect(await appended(writer, reading(206, { deviceId: 'rw-3' }))).toBe('stored')
    // The batch that threw reached the rules no further; every later one did, in order.
    expect(committed).not.toContain(201)
    expect(committed.at(-1)).toBe(206)
    expect(committed).toEqual([...committed].sort((a, b) => a - b))
    const [{ n }] = await database.query<{ n: number }>(sql`select count(*)::int as n from readings where device_id = 'rw-3'`)
    expect(n).toBe(6)
    expect(failures.map((e) => (e as Error).message)).toEqual(['a rule bug'])
    expect(await metricValue(metrics, 'precall_after_commit_errors_total')).toBe(1)
  })
})

describe('positions of a plain insert\'s rows', () => {
  it('takes ids in batch order when they come ascending', () => {
    expect(positions(4, ['10', '11', '12', '13'].map((id) => ({ id })))).toEqual(['10', '11', '12', '13'])
  })

  it('sorts ids that come in another order: the sequence numbered the rows in batch order', () => {
    expect(positions(4, ['21', '9', '100', '22'].map((id) => ({ id })))).toEqual(['9', '21', '22', '100'])
  })

  it('refuses an answer that is not one row a reading', () => {
    expect(() => positions(3, [{ id: '1' }, { id: '2' }])).toThrow(/2 rows for a batch of 3/)
  })
})

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string) {
  const text = await metrics.registry.metrics()
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1])
}
