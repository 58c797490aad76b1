import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../gateway/db/database.js'
import { createTestDatabaseUrl } from '../support/databases.js'

// patches/postgres+3.4.9.patch: a connection whose backend died under a transaction was left
// waiting forever (the rollback's bytes went to no socket and blocked the next connection's
// startup), and a query issued between a socket error and its close was never answered. With a
// pool of one, that was the whole gateway's database gone until a restart.
describe('PostgreSQL connection whose backend is terminated', () => {
  let database: Database
  let killer: postgres.Sql
  let drop: () => Promise<void>
  beforeAll(async () => {
    const created = await createTestDatabaseUrl()
    drop = created.drop
    database = await openDatabase({ url: created.url, dataDir: 'memory', poolSize: 1 })
    killer = postgres(created.url, { max: 1, onnotice: () => {} })
  })
  afterAll(async () => {
    await killer.end()
    await database.close()
    await drop()
  })

  const within = <T>(p: Promise<T>, ms: number) =>
    Promise.race([p.then(() => 'settled', () => 'settled'), new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), ms))])

  /** Queries until one succeeds: the first after a kill may carry the dead backend's error. */
  async function recovers(): Promise<boolean> {
    for (let i = 0; i < 3; i++) {
      const outcome = await Promise.race([
        database.query(sql`select 1 as one`).then(() => 'ok', () => 'error'),
        new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 2_000)),
      ])
      if (outcome === 'ok') return true
      if (outcome === 'hung') return false
    }
    return false
  }

  it('fails the transaction and leaves the pool usable', async () => {
    let pid = 0
    const tx = database.db.transaction(async (t) => {
      const [row] = (await t.execute(sql`select pg_backend_pid() as pid`)) as unknown as { pid: number }[]
      pid = row.pid
      await t.execute(sql`select pg_sleep(2)`)
    })
    while (pid === 0) await new Promise((r) => setTimeout(r, 10))
    await killer`select pg_terminate_backend(${pid})`
    await expect(tx).rejects.toThrow()
    expect(await recovers()).toBe(true)
  })

  it('answers queries issued around the kill, and the pool recovers', async () => {
    const [{ pid }] = await database.query<{ pid: number }>(sql`select pg_backend_pid() as pid`)
    const inFlight = [database.query(sql`select pg_sleep(0.5)`), database.query(sql`select 2`), database.query(sql`select 3`)]
    await new Promise((r) => setTimeout(r, 100))
    await killer`select pg_terminate_backend(${pid})`
    const after = database.query(sql`select 4`)
    for (const q of [...inFlight, after]) expect(await within(q, 2_000)).toBe('settled')
    expect(await recovers()).toBe(true)
  })
})
