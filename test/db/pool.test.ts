import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../gateway/db/database.js'
import { createTestDatabaseUrl, openTestDatabase } from '../support/databases.js'

const backendPids = (database: Database, n: number) => Promise.all(Array.from({ length: n }, () =>
  database.query<{ pid: number }>(sql`select pg_backend_pid() as pid, pg_sleep(0.05)`).then(([r]) => r!.pid)))

describe('PostgreSQL pool', () => {
  let database: Database
  beforeAll(async () => { database = await openTestDatabase('postgres', { poolSize: 3 }) })
  afterAll(async () => { await database.close() })

  it('opens at most DATABASE_POOL_MAX connections, and uses them side by side', async () => {
    const distinct = new Set(await backendPids(database, 12)).size
    expect(distinct).toBeGreaterThan(1)
    expect(distinct).toBeLessThanOrEqual(3)
  })

  it('hands a query the connection idle the shortest time, so one after another they keep to one backend', async () => {
    await backendPids(database, 6) // every connection open
    const pids: number[] = []
    for (let i = 0; i < 6; i++) pids.push((await database.query<{ pid: number }>(sql`select pg_backend_pid() as pid`))[0]!.pid)
    expect(new Set(pids).size).toBe(1)
  })
})

describe('a lane of the PostgreSQL pool', () => {
  it('runs on connections of its own, at most as many as asked for, and closes with the database', async () => {
    const { url, drop } = await createTestDatabaseUrl()
    const database = await openDatabase({ url, dataDir: 'memory', poolSize: 3 })
    try {
      const lane = database.lane(2, 'test')
      const [pooled, laned] = await Promise.all([backendPids(database, 9), backendPids(lane, 8)])
      const lanePids = new Set(laned)
      expect(lanePids.size).toBe(2)
      expect(new Set(pooled).size).toBeLessThanOrEqual(3)
      expect(pooled.filter((pid) => lanePids.has(pid))).toEqual([])
      // The lane's connections are this database's: it sees what the pool committed.
      await database.query(sql`create table lane_check (n int)`)
      await database.query(sql`insert into lane_check values (7)`)
      expect(await lane.query(sql`select n from lane_check`)).toEqual([{ n: 7 }])
    } finally {
      await database.close()
    }
    const left = await openDatabase({ url, dataDir: 'memory', poolSize: 1 })
    const [{ n }] = await left.query<{ n: number }>(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)
    await left.close()
    await drop()
    expect(n).toBe(0)
  })

  it('is the database itself on PGlite, which has one connection', async () => {
    const database = await openTestDatabase('pglite')
    try {
      expect(database.lane(4, 'test')).toBe(database)
    } finally {
      await database.close()
    }
  })
})
