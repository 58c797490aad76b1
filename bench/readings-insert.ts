/**
 * What a stored reading costs PostgreSQL, by statement and by the indexes on `readings`. The
 * shipped insert (the batch as jsonb, plain INSERT whose rows come back in batch order, retried
 * skipping duplicates only when it fails on the dedup index) against the statements it replaced
 * (the batch as jsonb, joined back to the batch to number the stored rows; the same over the batch
 * as json; the same with ON CONFLICT DO NOTHING on every batch), and that on the layout before
 * migration 0005 (dedup index on device, kind, ts, key plus its own device/ts index), and the
 * B-tree on received_at that migration 0006 replaced with a block range index; and the shipped
 * statement with event time as a Date, serialised to ISO text and parsed by PostgreSQL (until
 * 8e063e7; its batches are built with Dates, as decode made them), and returning each row's
 * device and dedup key with its id ('keys returned', until 2026-12-06); and the shipped statement
 * into one table, as before migration 0007 partitioned readings by day ('before 0007'), and with
 * the primary key on (id, ts) migration 0008 dropped ('before 0008').
 * Each runs in a freshly migrated database, batches four at a time as the reading writer sends
 * them, alternating, so all are measured under the same conditions in one run. Prints CPU of the
 * database's backends and WAL (the whole server's) per stored row, the CPU of this process (the
 * client: building the batches, serialising them, the driver) per row, and the ratios. A
 * benchmark, not a test.
 *
 * After each round of the shipped statement, as many readings are counted into hourly rollups (as
 * the gateway counts them on commit) and flushed, and that is measured too.
 *
 *   npm run bench:insert -- [--rows 200000] [--devices 5000] [--batch 60] [--rounds 2] [--variants 'before 0007,json']
 */
import { parseArgs } from 'node:util'
import { sql, type SQL } from 'drizzle-orm'
import { loadConfig } from '../gateway/config/load-config.js'
import { openDatabase, type Database } from '../gateway/db/database.js'
import { keepDayPartitions } from '../gateway/retention/partitions.js'
import { createRollupCounter } from '../gateway/retention/rollup-counter.js'
import type { CommittedReading } from '../gateway/ingest/reading-writer.js'
import type { StoredReading } from '../gateway/ingest/decode.js'
import { appendStatement, insertReadings, insertStatement } from '../gateway/ingest/reading-writer.js'
import { createTestDatabaseUrl } from '../test/support/databases.js'
import { processCpuUs, WAL_WRITTEN, walWritten } from './process-stats.js'

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    devices: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string' },
  },
})
const ROWS = Number(flags.rows)
const DEVICES = Number(flags.devices)
const BATCH = Number(flags.batch)

// The statements the shipped one replaced: joined back to the batch (until 2026-12-06), over the
// batch as json, plain or with ON CONFLICT DO NOTHING on every batch (until 3a4883c and 71e2817).
const joined = (recordset: 'jsonb' | 'json', onConflict: SQL) => (database: Database, batch: BenchReading[]) => {
  const rows = JSON.stringify(batch)
  return database.query(insertStatement(recordset === 'jsonb' ? sql`jsonb_to_recordset(${rows}::jsonb)` : sql`json_to_recordset(${rows}::json)`, onConflict))
}

// Event time as the writer sent it until 8e063e7: a Date, which JSON.stringify writes as ISO text.
type BenchReading = Omit<StoredReading, 'ts'> & { ts: number | Date }
const asDate = (database: Database, batch: BenchReading[]) => database.query(sql`
  insert into readings (device_id, kind, ts, seq, dedup_key, metrics, state, code, detail)
  select device_id, kind, ts, seq, dedup_key, metrics, state, code, detail from rows from (jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
    as ("deviceId" text, kind text, ts timestamptz, seq bigint, "dedupKey" text, metrics jsonb, state text, code text, detail jsonb))
    with ordinality as x(device_id, kind, ts, seq, dedup_key, metrics, state, code, detail, n)
  order by n
  returning id, device_id, dedup_key`)

// The shipped statement as it was until 2026-12-06: each row came back with its device and dedup
// key, to be matched to its reading by them should RETURNING's order ever differ.
const keysReturned = (database: Database, batch: BenchReading[]) =>
  database.query(appendStatement(sql`jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)`, sql`id, device_id, dedup_key`))

type Variant = { setup: string[]; dates?: true; unpartitioned?: true; nulls?: true; insert(database: Database, batch: BenchReading[]): Promise<unknown> }
// The shipped insert; only the 'Date ts' variant builds batches with Dates.
const shippedInsert = (database: Database, batch: BenchReading[]) => insertReadings(database, batch as StoredReading[])
const VARIANTS = {
  shipped: { setup: [], insert: shippedInsert },
  'keys returned': { setup: [], insert: keysReturned },
  // Readings as decode gave them until 2026-12-07: the fields a kind has none of as null, not absent.
  'with nulls': { setup: [], nulls: true, insert: shippedInsert },
  'Date ts': { setup: [], dates: true, insert: asDate },
  joined: { setup: [], insert: joined('jsonb', sql``) },
  json: { setup: [], insert: joined('json', sql``) },
  'ON CONFLICT': { setup: [], insert: joined('json', sql`on conflict do nothing`) },
  // One table, as before migration 0007 made readings a table partitioned by day of event time.
  'before 0007': {
    unpartitioned: true,
    setup: [
      'drop table readings',
      `create table readings (id bigserial primary key, device_id text not null, kind text not null, ts timestamptz not null, seq bigint,
        dedup_key text not null, metrics jsonb, state text, code text, detail jsonb, received_at timestamptz default now() not null)`,
      'create unique index readings_device_ts_dedup on readings (device_id, ts, kind, dedup_key)',
      'create index readings_received on readings using brin (received_at)',
    ],
    insert: shippedInsert,
  },
  // With the primary key on (id, ts) that migration 0008 dropped.
  'before 0008': { setup: ['alter table readings add constraint readings_id_ts_pk primary key (id, ts)'], insert: shippedInsert },
  'before 0006': {
    setup: ['drop index readings_received', 'create index readings_received on readings (received_at)'],
    insert: shippedInsert,
  },
  'before 0005': {
    setup: [
      'create unique index readings_dedup on readings (device_id, kind, ts, dedup_key)',
      'create index readings_device_ts on readings (device_id, ts)',
      'drop index readings_device_ts_dedup',
      'drop index readings_received',
      'create index readings_received on readings (received_at)',
    ],
    insert: joined('json', sql`on conflict do nothing`),
  },
} satisfies Record<string, Variant>
type VariantName = keyof typeof VARIANTS

/** CPU (user + system, µs) of every backend connected to this database, from /proc. */
async function backendCpuUs(database: Database): Promise<number> {
  const rows = await database.query<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)
  return rows.reduce((us, { pid }) => us + processCpuUs(pid), 0)
}

// The whole server's WAL: nothing else writes much while this runs.
const walBytes = async (database: Database) => walWritten((await database.query(sql.raw(WAL_WRITTEN)))[0]!).bytes

type Figures = { cpu: number; client: number; wal: number; rollup?: { client: number; cpu: number; longestMs: number } }

async function measure(name: VariantName): Promise<Figures> {
  const variant: Variant = VARIANTS[name]
  const { url, drop } = await createTestDatabaseUrl()
  const database = await openDatabase({ url, dataDir: 'memory', poolSize: 4 })
  try {
    for (const statement of variant.setup) await database.query(sql.raw(statement))
    const t0 = Date.UTC(2026, 10, 24)
    // The day the readings fall on gets its partition, as the gateway's retention pass gives it.
    if (!variant.unpartitioned) await keepDayPartitions(database, t0, loadConfig({}).retention.readingsMs)
    let seq = 0
    const batch = (): BenchReading[] => Array.from({ length: BATCH }, () => {
      seq++
      return {
        deviceId: `dev-${seq % DEVICES}`, kind: 'telemetry', ts: variant.dates ? new Date(t0 + seq * 10) : t0 + seq * 10, seq, dedupKey: `s${seq}`,
        metrics: { temp_c: 40 + (seq % 10), rpm: 1200, vibration_g: 0.3 }, ...(variant.nulls ? { state: null, code: null, detail: null } : {}),
      } as BenchReading
    })
    // Four batches in flight at a time, as the reading writer keeps them on PostgreSQL.
    const write = async (rows: number) => {
      let left = Math.ceil(rows / BATCH)
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (; left > 0; left--) await variant.insert(database, batch())
      }))
    }
    await write(ROWS / 4) // warm-up: a table that is not empty, statements prepared
    const before = { cpu: await backendCpuUs(database), wal: await walBytes(database) }
    const client = process.cpuUsage()
    await write(ROWS)
    const { user, system } = process.cpuUsage(client)
    const figures: Figures = { cpu: (await backendCpuUs(database) - before.cpu) / ROWS, client: (user + system) / ROWS, wal: (await walBytes(database) - before.wal) / ROWS }
    if (name !== 'shipped') return figures
    // What counting as many readings into hourly rollups costs: the gateway counting them as they
    // commit, and PostgreSQL adding the figures in one flush (5,000 devices × 3 metrics, one hour).
    // And the longest stretch the flush holds the event loop: from its start or a statement's answer
    // to the next statement it sends.
    let since = 0
    let longest = 0
    const timed = {
      ...database,
      query: ((query: SQL) => {
        longest = Math.max(longest, performance.now() - since)
        return database.query(query).finally(() => { since = performance.now() })
      }) as Database['query'],
    }
    const counter = createRollupCounter(timed)
    const readings = Array.from({ length: ROWS / BATCH }, () => batch() as CommittedReading[])
    const counting = process.cpuUsage()
    for (const b of readings) counter.count(b)
    const counted = process.cpuUsage(counting)
    const flushing = await backendCpuUs(database)
    since = performance.now()
    await counter.flush()
    return { ...figures, rollup: { client: (counted.user + counted.system) / ROWS, cpu: (await backendCpuUs(database) - flushing) / ROWS, longestMs: longest } }
  } finally {
    await database.close()
    await drop()
  }
}

const chosen = flags.variants?.split(',')
const names = (Object.keys(VARIANTS) as VariantName[]).filter((name) => name === 'shipped' || !chosen || chosen.includes(name))
const results = Object.fromEntries(names.map((name) => [name, [] as Figures[]])) as Record<VariantName, Figures[]>
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const name of names) {
    const r = await measure(name)
    results[name].push(r)
    console.log(`round ${round + 1}  ${name.padEnd(12)} ${r.cpu.toFixed(1)} µs of PostgreSQL CPU, ${r.client.toFixed(1)} µs of the client's and ${r.wal.toFixed(0)} B of WAL a stored row` +
      (r.rollup === undefined ? '' : `; counted into rollups, ${r.rollup.client.toFixed(2)} µs of the client's and ${r.rollup.cpu.toFixed(2)} µs of PostgreSQL's a reading, ` +
        `the flush's longest stretch on the event loop ${r.rollup.longestMs.toFixed(1)} ms`))
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const of = (name: VariantName): Figures => ({ cpu: mean(results[name].map((r) => r.cpu)), client: mean(results[name].map((r) => r.client)), wal: mean(results[name].map((r) => r.wal)) })
const shipped = of('shipped')
console.log(`\n${ROWS} rows a round, ${DEVICES} devices, batches of ${BATCH}`)
const rollup = { client: mean(results.shipped.map((r) => r.rollup!.client)), cpu: mean(results.shipped.map((r) => r.rollup!.cpu)) }
console.log(`rollups: ${rollup.client.toFixed(2)} µs of the client's and ${rollup.cpu.toFixed(2)} µs of PostgreSQL's a reading, ${(rollup.cpu / shipped.cpu).toFixed(2)} × what storing it cost PostgreSQL`)
for (const name of names.slice(1)) {
  const other = of(name)
  console.log(`shipped ${shipped.cpu.toFixed(1)} µs/row, ${name} ${other.cpu.toFixed(1)} µs/row: ${(shipped.cpu / other.cpu).toFixed(2)} × the cost; ` +
    `client ${shipped.client.toFixed(1)} against ${other.client.toFixed(1)} µs/row; WAL ${shipped.wal.toFixed(0)} against ${other.wal.toFixed(0)} B/row`)
}
