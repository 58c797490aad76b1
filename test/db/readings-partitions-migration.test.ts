import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS_FOLDER } from '../../gateway/db/database.js'
import { createTestDatabaseUrl } from '../support/databases.js'

// Migration 0007 turns `readings` into a partitioned table: a database that already holds
// readings keeps every one of them, its ids go on from where they were, and a redelivery of an
// old reading is still refused.
const BEFORE = '0007_readings_partitions'

/** The migrations folder as it was before 0007. */
function foldersBefore(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'precall-migrations-'))
  cpSync(MIGRATIONS_FOLDER, dir, { recursive: true })
  const journalPath = path.join(dir, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] }
  journal.entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === BEFORE))
  writeFileSync(journalPath, JSON.stringify(journal))
  return dir
}

type Run = (q: ReturnType<typeof sql>) => Promise<Record<string, unknown>[]>

describe.each(['pglite', 'postgres'] as const)('migrating readings to partitions on %s', (backend) => {
  let run: Run
  let migrate: (folder: string) => Promise<void>
  let close: () => Promise<void>
  const older = foldersBefore()

  beforeAll(async () => {
    if (backend === 'pglite') {
      const client = await PGlite.create()
      const db = drizzlePglite({ client })
      run = async (q) => (await db.execute(q)).rows as Record<string, unknown>[]
      migrate = (folder) => migratePglite(db, { migrationsFolder: folder })
      close = () => client.close()
    } else {
      const { url, drop } = await createTestDatabaseUrl()
      const client = postgres(url, { max: 2, onnotice: () => {} })
      const db = drizzlePostgres({ client })
      run = async (q) => [...(await db.execute(q))] as Record<string, unknown>[]
      migrate = (folder) => migratePostgres(db, { migrationsFolder: folder })
      close = async () => { await client.end(); await drop() }
    }
  })
  afterAll(async () => { await close(); rmSync(older, { recursive: true, force: true }) })

  it('keeps the readings stored before, their ids, and their dedup', async () => {
    await migrate(older)
    await run(sql`insert into readings (device_id, kind, ts, seq, dedup_key, metrics)
      select 'mig-' || (i % 3), 'telemetry', timestamptz '2026-11-20 00:00:00+00' + i * interval '1 hour', i, 's' || i, jsonb_build_object('t', i)
      from generate_series(1, 50) as i`)
    const [{ max: before }] = await run(sql`select max(id)::int as max from readings`)

    await migrate(MIGRATIONS_FOLDER)
    expect(await run(sql`select relkind from pg_class where relname = 'readings'`)).toEqual([{ relkind: 'p' }])
    expect(await run(sql`select count(*)::int as n, min(id)::int as min, max(id)::int as max, sum((metrics->>'t')::int)::int as t from readings`))
      .toEqual([{ n: 50, min: 1, max: before, t: (50 * 51) / 2 }])

    const [fresh] = await run(sql`insert into readings (device_id, kind, ts, dedup_key) values ('mig-1', 'telemetry', now(), 'new') returning id::int as id`)
    expect(fresh.id).toBe(Number(before) + 1)
    await expect(run(sql`insert into readings (device_id, kind, ts, seq, dedup_key) values ('mig-1', 'telemetry', timestamptz '2026-11-20 00:00:00+00' + interval '1 hour', 1, 's1')`))
      .rejects.toThrow()
    // What was stored before is counted into rollups once, by the migration (the gateway counts the rest).
    expect(await run(sql`select sum(count)::int as n, sum(sum)::int as t from reading_rollups where metric = 't'`)).toEqual([{ n: 50, t: (50 * 51) / 2 }])
    expect(await run(sql`select count(*)::int as hours from reading_rollups`)).toEqual([{ hours: 50 }])
  })
})
