import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { DAY_MS, keepDayPartitions } from '../../gateway/retention/partitions.js'
import { openTestDatabase } from '../support/databases.js'

// readings carries one B-tree and a block range index on received_at: the dedup index (its natural
// key), ordered so that its prefix (device_id, ts) also serves every per-device lookup by event
// time. Another index would cost PostgreSQL ~3 µs a stored row (npm run bench:insert): the
// primary key on (id, ts) went in migration 0008, so a lookup must not need its own.
describe('readings lookups on PostgreSQL', () => {
  let database: Database
  beforeAll(async () => {
    database = await openTestDatabase('postgres')
    // The day the rows below fall on gets its partition, as the gateway's retention pass gives it.
    await keepDayPartitions(database, Date.parse('2026-11-24T12:00:00Z'), 30 * DAY_MS)
    await database.query(sql`
      insert into readings (device_id, kind, ts, seq, dedup_key, metrics, received_at)
      select 'dev-' || (i % 200), case when i % 10 = 0 then 'event' else 'telemetry' end,
        timestamptz '2026-11-24 00:00:00+00' + i * interval '1 second', i, 's' || i, jsonb_build_object('t', i),
        timestamptz '2026-11-24 00:00:00+00' + i * interval '1 second'
      from generate_series(1, 20000) as i`)
    await database.query(sql`analyze readings`)
  })
  afterAll(async () => { await database.close() })

  const plan = async (query: ReturnType<typeof sql>) =>
    (await database.query<{ 'QUERY PLAN': string }>(sql`explain ${query}`)).map((r) => r['QUERY PLAN']).join('\n')

  it('keeps those two indexes on readings and no other', async () => {
    const indexes = await database.query<{ name: string }>(sql`select indexname as name from pg_indexes where tablename = 'readings' order by 1`)
    expect(indexes.map((i) => i.name)).toEqual(['readings_device_ts_dedup', 'readings_received'])
  })

  it('has the last reading the rule tail replays (max id received since) from the block range index, not every row', async () => {
    const text = await plan(sql`select max(id) from readings where received_at >= timestamptz '2026-11-24 05:20:00+00'`)
    expect(text).toMatch(/Bitmap Index Scan on readings_p20261124_received_at_idx/)
    expect(text).not.toMatch(/Seq Scan on readings_p20261124/)
  })

  it('has a device\'s newest telemetry (the agent context) answered by one index probe, no sort', async () => {
    const text = await plan(sql`select ts, metrics from readings where device_id = 'dev-7' and kind = 'telemetry' order by ts desc limit 1`)
    // Each day partition's part of the index, newest first, merged: no sort, no scan of rows.
    expect(text).toMatch(/Index Scan Backward using readings_p20261124_device_id_ts_kind_dedup_key_idx/)
    expect(text).not.toMatch(/\bSort {2}\(|Seq Scan/)
  })

  it('has a backtest page (devices over an event-time window, by time) read from the index', async () => {
    const text = await plan(sql`select * from readings where device_id in ('dev-1', 'dev-2') and ts >= timestamptz '2026-11-24 01:00:00+00'
      and ts < timestamptz '2026-11-24 02:00:00+00' order by ts, id limit 500`)
    expect(text).toMatch(/readings_p20261124_device_id_ts_kind_dedup_key_idx/)
    // Only the day the window falls in is read.
    expect(text).not.toMatch(/Seq Scan|readings_p20261123|readings_default/)
  })

  it('has the rule tail (received since, by event time) read from the block range index, not every row', async () => {
    const text = await plan(sql`select * from readings where received_at >= timestamptz '2026-11-24 05:20:00+00' and id <= 20000
      order by ts, id limit 5000`)
    expect(text).toMatch(/Bitmap Index Scan on readings_p20261124_received_at_idx/)
    // Empty partitions may be scanned whole (nothing to read); the day that holds rows is not.
    expect(text).not.toMatch(/Seq Scan on readings_p20261124/)
  })

  it('still refuses the same reading twice, whichever order its key columns are indexed in', async () => {
    const stored = await database.query<{ id: string }>(sql`
      insert into readings (device_id, kind, ts, seq, dedup_key) values
        ('dev-1', 'telemetry', timestamptz '2026-11-24 00:00:01+00', 1, 's1'),
        ('dev-1', 'event', timestamptz '2026-11-24 00:00:01+00', 1, 's1')
      on conflict do nothing returning id`)
    // (dev-1, telemetry, 00:00:01, s1) exists from the seed (i = 1 is telemetry); the event is new.
    expect(stored).toHaveLength(1)
  })
})
