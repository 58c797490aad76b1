import { sql } from 'drizzle-orm'
import pino from 'pino'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { insertReadings } from '../../gateway/ingest/reading-writer.js'
import type { StoredReading } from '../../gateway/ingest/decode.js'
import { createMetrics, type Metrics } from '../../gateway/metrics.js'
import { DAY_MS } from '../../gateway/retention/partitions.js'
import { createRetention, type Retention } from '../../gateway/retention/retention.js'
import { createRollupCounter } from '../../gateway/retention/rollup-counter.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'

const T0 = Date.parse('2026-12-06T12:00:00Z')
const policy = { readingsMs: 30 * DAY_MS, rollupsMs: 365 * DAY_MS, pollMs: 60_000 }

const reading = (key: string, ts: number, metrics: Record<string, number> | null = { temp_c: 50 }, kind: StoredReading['kind'] = 'telemetry'): StoredReading => ({
  deviceId: 'ret-1', kind, ts, seq: null, dedupKey: key, metrics, state: null, code: kind === 'event' ? 'E1' : null, detail: null,
})

const counter = async (metrics: Metrics, name: string) =>
  (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0)

describe.each(BACKENDS)('readings retention on %s', (backend) => {
  let database: Database
  let now = T0
  let metrics: Metrics
  let retention: Retention
  const where = async () => Object.fromEntries((await database.query<{ key: string; part: string }>(
    sql`select dedup_key as key, tableoid::regclass::text as part from readings order by dedup_key`)).map((r) => [r.key, r.part]))
  const partitions = async () => (await database.query<{ name: string }>(
    sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'readings'::regclass order by 1`)).map((r) => r.name)
  const rollups = () => database.query<{ metric: string; hour: string; count: number; min: number; max: number; sum: number; sum_sq: number }>(
    sql`select metric, hour, count, min, max, sum, sum_sq from reading_rollups order by metric, hour`)

  beforeAll(async () => {
    database = await openTestDatabase(backend)
    metrics = createMetrics()
    retention = createRetention({ database, metrics, policy, log: pino({ level: 'silent' }), now: () => now })
  })
  afterAll(async () => { await database.close() })

  it('before ingest, gives yesterday, today and the next two days their partitions; readings go to their day', async () => {
    // Stored before any partition existed (as by the migration): they wait in the default partition.
    await insertReadings(database, [reading('today', T0 - 3_600_000), reading('week-ago', T0 - 7 * DAY_MS), reading('expired', T0 - 31 * DAY_MS)])
    expect(await where()).toEqual({ today: 'readings_default', 'week-ago': 'readings_default', expired: 'readings_default' })

    expect(await retention.prepare()).toEqual({ added: 5, dropped: 0, moved: 2, expired: 1 })
    expect(await partitions()).toEqual(['readings_default', 'readings_p20261129', 'readings_p20261205', 'readings_p20261206', 'readings_p20261207', 'readings_p20261208'])
    expect(await where()).toEqual({ today: 'readings_p20261206', 'week-ago': 'readings_p20261129' })
    expect(await counter(metrics, 'precall_readings_expired_total')).toBe(1)

    await insertReadings(database, [reading('tomorrow', T0 + DAY_MS)])
    expect((await where()).tomorrow).toBe('readings_p20261207')
    expect(await retention.prepare()).toEqual({ added: 0, dropped: 0, moved: 0, expired: 0 })
  })

  it('still stores a redelivered reading once, in whichever partition it lives', async () => {
    const ids = await insertReadings(database, [reading('today', T0 - 3_600_000), reading('fresh', T0)])
    expect(ids[0]).toBeUndefined()
    expect(ids[1]).toBeDefined()
  })

  it('adds each committed telemetry metric to its device\'s hour, late readings to theirs, on the next pass', async () => {
    const hour = Date.parse('2026-12-06T10:00:00Z')
    const committed = (key: string, ts: number, metrics: Record<string, number> | null, kind: StoredReading['kind'] = 'telemetry') =>
      ({ ...reading(key, ts, metrics, kind), id: 1 })
    retention.count([
      committed('a', hour + 60_000, { temp_c: 50, rpm: 1200 }), committed('b', hour + 120_000, { temp_c: 54 }),
      committed('c', hour + 3_600_000, { temp_c: 40 }), committed('ev', hour, null, 'event'),
    ])
    expect(await rollups()).toEqual([]) // written by the pass, not as counted
    expect((await retention.runOnce()).rollupsWritten).toBe(3)
    expect(await rollups()).toEqual([
      { metric: 'rpm', hour: expect.stringMatching(/^2026-12-06[ T]10:00:00/), count: 1, min: 1200, max: 1200, sum: 1200, sum_sq: 1_440_000 },
      { metric: 'temp_c', hour: expect.stringMatching(/^2026-12-06[ T]10:00:00/), count: 2, min: 50, max: 54, sum: 104, sum_sq: 2500 + 2916 },
      { metric: 'temp_c', hour: expect.stringMatching(/^2026-12-06[ T]11:00:00/), count: 1, min: 40, max: 40, sum: 40, sum_sq: 1600 },
    ])
    expect((await retention.runOnce()).rollupsWritten).toBe(0)

    // A reading of 10:30 that commits later is added to 10:00.
    retention.count([committed('late', hour + 30 * 60_000, { temp_c: 30 })])
    expect((await retention.runOnce()).rollupsWritten).toBe(1)
    const [rpm, tempAt10] = await rollups()
    expect(rpm.count).toBe(1)
    expect(tempAt10).toMatchObject({ count: 3, min: 30, max: 54, sum: 134 })
    expect(await counter(metrics, 'precall_rollups_written_total')).toBe(4)
  })

  it('keeps what a failed write counted for the next pass, and counts the failure', async () => {
    const hour = Date.parse('2026-12-06T10:00:00Z')
    const before = await rollups()
    retention.count([{ ...reading('f', hour + 5000, { temp_c: 70 }), id: 1 }])
    await database.query(sql`alter table reading_rollups rename to reading_rollups_away`)
    await expect(retention.runOnce()).rejects.toThrow()
    await database.query(sql`alter table reading_rollups_away rename to reading_rollups`)
    expect((await retention.runOnce()).rollupsWritten).toBe(1)
    const after = await rollups()
    expect(after[1]).toMatchObject({ count: before[1].count + 1, max: 70, sum: before[1].sum + 70 })
  })

  it('counts what a device sends after a flush into the figures it wrote, afresh, and forgets an hour a pass after its last reading', async () => {
    const hour = Date.parse('2026-12-06T08:00:00Z')
    const rollup = createRollupCounter(database)
    const sent = (key: string, ts: number, temp: number) => [{ ...reading(key, ts, { temp_c: temp }), deviceId: 'ret-2', id: 1 }]
    const stored = async () => database.query<{ hour: string; count: number; min: number; max: number; sum: number }>(
      sql`select hour, count, min, max, sum from reading_rollups where device_id = 'ret-2' order by hour`)

    rollup.count(sent('r1', hour + 1000, 60))
    expect(await rollup.flush()).toBe(1)
    // The same device, metric and hour again: only the new reading is added, not the one written.
    rollup.count(sent('r2', hour + 2000, 40))
    expect(rollup.pending).toBe(1)
    expect(await rollup.flush()).toBe(1)
    expect(await stored()).toEqual([{ hour: expect.stringMatching(/08:00:00/), count: 2, min: 40, max: 60, sum: 100 }])

    // The next hour starts: 08:00 is held until a pass goes by without a reading for it.
    rollup.count(sent('r3', hour + 3_600_000, 50))
    expect(rollup.held).toBe(2)
    expect(await rollup.flush()).toBe(1)
    expect(rollup.held).toBe(1)
    expect(await rollup.flush()).toBe(0) // nothing counted: nothing written, and the hour stays held
    rollup.count(sent('r4', hour + 3_700_000, 52))
    await rollup.flush()
    expect(await stored()).toMatchObject([{ count: 2 }, { count: 2, min: 50, max: 52, sum: 102 }])
    await database.query(sql`delete from reading_rollups where device_id = 'ret-2'`)
  })

  it('writes a large flush in chunks; what counts while it runs goes to it or to the next, none lost or doubled', async () => {
    const hour = Date.parse('2026-12-06T07:00:00Z')
    const rollup = createRollupCounter(database)
    // 2,500 devices: a chunk of 2,000 and one of 500.
    const sent = (value: number) => Array.from({ length: 2500 }, (_, i) => ({ ...reading(`c${value}`, hour + value, { temp_c: value }), deviceId: `chunk-${i}`, id: 1 }))
    rollup.count(sent(1))
    const flushing = rollup.flush()
    // The first chunk is taken: its devices' next readings count afresh; the rest still wait to be taken.
    rollup.count(sent(3))
    expect(await flushing).toBe(2500)
    expect(await rollup.flush()).toBe(2000)
    const [figures] = await database.query<{ devices: number; counts: number; sums: number; mins: number; maxes: number }>(sql`
      select count(*)::int as devices, sum(count)::int as counts, sum(sum)::int as sums, sum(min)::int as mins, sum(max)::int as maxes
      from reading_rollups where device_id like 'chunk-%'`)
    expect(figures).toEqual({ devices: 2500, counts: 5000, sums: 10_000, mins: 2500, maxes: 7500 })
    await database.query(sql`delete from reading_rollups where device_id like 'chunk-%'`)
  })

  it('drops whole days past the window and keeps the rollups of their hours', async () => {
    await insertReadings(database, [reading('kept', T0 - 2 * DAY_MS + 1000)])
    await retention.prepare()
    expect((await where()).kept).toBe('readings_p20261204')

    now = T0 + 31 * DAY_MS
    const pass = await retention.runOnce()
    // Cut-off 2026-12-07 12:00: the days up to 12-06 go (11-29, 12-04, 12-05, 12-06), 12-07 stays.
    expect(pass.dropped).toBe(4)
    expect(await partitions()).toEqual(['readings_default', 'readings_p20261207', 'readings_p20261208', 'readings_p20270105', 'readings_p20270106', 'readings_p20270107', 'readings_p20270108'])
    expect(await database.query(sql`select 1 from readings where ts < ${new Date(now - policy.readingsMs).toISOString()}::timestamptz`)).toEqual([])
    expect(await counter(metrics, 'precall_readings_partitions_dropped_total')).toBe(pass.dropped)
    expect((await rollups()).length).toBe(3)

    // And the hourly figures go once past their own, longer window.
    now = T0 + 366 * DAY_MS
    expect((await retention.runOnce()).rollupsExpired).toBe(3)
    expect(await rollups()).toEqual([])
    now = T0
  })
})

describe('readings retention with two gateways on one PostgreSQL database', () => {
  it('gives up on a lock it cannot get within 5 s rather than hold ingest behind it; counts it and tries again', async () => {
    const database = await openTestDatabase('postgres', { poolSize: 4 })
    const holder = postgres(database.url!, { max: 1, onnotice: () => {} })
    try {
      const metrics = createMetrics()
      const retention = createRetention({ database, metrics, policy: { ...policy, pollMs: 200 }, log: pino({ level: 'silent' }), now: () => T0 })
      let release!: () => void
      const held = holder.begin(async (tx) => {
        await tx`lock table readings_default in access exclusive mode`
        await new Promise<void>((resolve) => { release = resolve })
      })
      await vi.waitFor(() => expect(release).toBeDefined())
      retention.start()
      await vi.waitFor(async () => expect(await counter(metrics, 'precall_retention_failures_total')).toBe(1), { timeout: 10_000 })
      release()
      await held
      await vi.waitFor(async () => expect(await counter(metrics, 'precall_readings_partitions_added_total')).toBe(4), { timeout: 10_000 })
      await retention.stop()
      expect(await counter(metrics, 'precall_retention_failures_total')).toBe(1)
    } finally {
      await holder.end()
      await database.close()
    }
  }, 20_000)

  it('keeps the partitions once: the gateway that does not get the lock leaves them to the other', async () => {
    const database = await openTestDatabase('postgres', { poolSize: 4 })
    try {
      const [a, b] = [createMetrics(), createMetrics()].map((metrics) =>
        createRetention({ database, metrics, policy, log: pino({ level: 'silent' }), now: () => T0 }))
      const passes = await Promise.all([a.prepare(), b.prepare(), a.prepare()])
      expect(passes.reduce((n, p) => n + p.added, 0)).toBe(4)
      const [{ n }] = await database.query<{ n: number }>(sql`select count(*)::int as n from pg_inherits where inhparent = 'readings'::regclass`)
      expect(n).toBe(5)
    } finally {
      await database.close()
    }
  })
})
