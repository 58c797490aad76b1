/**
 * What a stored reading costs PostgreSQL, by the indexes on `readings`: the schema as shipped
 * against the layout before migration 0005 (dedup index on device, kind, ts, key plus its own
 * device/ts index). Both go through the gateway's own reading writer into a freshly migrated
 * database, alternating, so the two are measured under the same conditions in one run. Prints
 * CPU of the database's backends per stored row and the ratio. A benchmark, not a test.
 *
 *   npm run bench:insert -- [--rows 200000] [--devices 5000] [--batch 60] [--rounds 2]
 */
import { parseArgs } from 'node:util'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../gateway/db/database.js'
import type { StoredReading } from '../gateway/ingest/decode.js'
import { createReadingWriter } from '../gateway/ingest/reading-writer.js'
import { createMetrics } from '../gateway/metrics.js'
import { createTestDatabaseUrl } from '../test/support/databases.js'
import { processCpuUs } from './process-stats.js'

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    devices: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '2' },
  },
})
const ROWS = Number(flags.rows)
const DEVICES = Number(flags.devices)
const BATCH = Number(flags.batch)

const LAYOUTS = {
  shipped: [],
  'before 0005': [
    'create unique index readings_dedup on readings (device_id, kind, ts, dedup_key)',
    'create index readings_device_ts on readings (device_id, ts)',
    'drop index readings_device_ts_dedup',
  ],
} satisfies Record<string, string[]>

/** CPU (user + system, µs) of every backend connected to this database, from /proc. */
async function backendCpuUs(database: Database): Promise<number> {
  const rows = await database.query<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)
  return rows.reduce((us, { pid }) => us + processCpuUs(pid), 0)
}

async function measure(layout: keyof typeof LAYOUTS): Promise<number> {
  const { url, drop } = await createTestDatabaseUrl()
  const database = await openDatabase({ url, dataDir: 'memory', poolSize: 4 })
  try {
    for (const statement of LAYOUTS[layout]) await database.query(sql.raw(statement))
    const writer = createReadingWriter({ database, metrics: createMetrics(), maxBatch: BATCH, concurrency: 4, lingerMs: 2, onCommitted() {} })
    const t0 = Date.UTC(2026, 10, 24)
    let seq = 0
    const write = async (rows: number) => {
      const pending: Promise<unknown>[] = []
      for (let i = 0; i < rows; i++, seq++) {
        const reading: StoredReading = {
          deviceId: `dev-${seq % DEVICES}`, kind: 'telemetry', ts: new Date(t0 + seq * 10), seq, dedupKey: `s${seq}`,
          metrics: { temp_c: 40 + (seq % 10), rpm: 1200, vibration_g: 0.3 }, state: null, code: null, detail: null,
        }
        pending.push(writer.append(reading))
        if (pending.length >= BATCH * 8) await Promise.all(pending.splice(0))
      }
      await Promise.all(pending)
    }
    await write(ROWS / 4) // warm-up: a table that is not empty, statements prepared
    const before = await backendCpuUs(database)
    await write(ROWS)
    return (await backendCpuUs(database) - before) / ROWS
  } finally {
    await database.close()
    await drop()
  }
}

const layouts = Object.keys(LAYOUTS) as (keyof typeof LAYOUTS)[]
const results = Object.fromEntries(layouts.map((layout) => [layout, [] as number[]])) as Record<keyof typeof LAYOUTS, number[]>
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const layout of layouts) {
    const us = await measure(layout)
    results[layout].push(us)
    console.log(`round ${round + 1}  ${layout.padEnd(12)} ${us.toFixed(1)} µs of PostgreSQL CPU a stored row`)
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const shipped = mean(results.shipped)
const before = mean(results['before 0005'])
console.log(`\n${ROWS} rows a round, ${DEVICES} devices, batches of ${BATCH}`)
console.log(`shipped ${shipped.toFixed(1)} µs/row, before 0005 ${before.toFixed(1)} µs/row: ${(shipped / before).toFixed(2)} × the cost`)
