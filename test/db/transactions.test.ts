import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../gateway/db/database.js'
import { keepLoopBusy } from '../support/busy-loop.js'
import { createTestDatabaseUrl } from '../support/databases.js'

const rowsOf = <T>(result: unknown) => [...(result as T[])]

// patches/postgres+3.4.9.patch: a plain BEGIN is not waited for; the transaction's first statements
// follow it on the connection it reserved. PostgreSQL only: PGlite has no round trips to save.
describe('PostgreSQL transactions', () => {
  let database: Database
  let drop: () => Promise<void>
  beforeAll(async () => {
    const created = await createTestDatabaseUrl()
    drop = created.drop
    // Few connections, so transactions and plain queries compete for them.
    database = await openDatabase({ url: created.url, dataDir: 'memory', poolSize: 2 })
  })
  afterAll(async () => {
    await database.close()
    await drop()
  })

  it('sends the first statements with BEGIN: one statement and COMMIT take two turns of a busy loop, not three', async () => {
    const transaction = () => database.db.transaction(async (tx) => { await tx.execute(sql`select 1`) })
    for (let i = 0; i < 4; i++) await transaction() // both connections open and warm
    const stopBusy = await keepLoopBusy(20)
    let turns = 0
    let counting = true
    const count = () => { turns++; if (counting) setImmediate(count) }
    setImmediate(count)
    try {
      const transactions = 10
      const before = turns
      for (let i = 0; i < transactions; i++) await transaction()
      // Waiting for BEGIN's answer: exactly 3 turns a transaction. The slack allows for a database
      // slow to answer now and then.
      expect((turns - before) / transactions).toBeLessThan(2.5)
    } finally {
      counting = false
      await stopBusy()
    }
  })

  it('sends statements beyond the 100 it keeps in flight together too, not one a turn', async () => {
    const statements = 250
    const transaction = () => database.db.transaction(async (tx) => {
      await Promise.all(Array.from({ length: statements }, (_, i) => tx.execute(sql`select ${i}::int as i`)))
    })
    await transaction() // statements prepared
    const stopBusy = await keepLoopBusy(5)
    let turns = 0
    let counting = true
    const count = () => { turns++; if (counting) setImmediate(count) }
    setImmediate(count)
    try {
      const before = turns
      await transaction()
      // Stock: 100 in one round trip, then the other 150 one round trip each (over 150 turns).
      expect(turns - before).toBeLessThan(20)
    } finally {
      counting = false
      await stopBusy()
    }
  })

  it('keeps its connection to itself from BEGIN on: queries issued meanwhile never land inside it', async () => {
    const inside = Array.from({ length: 30 }, (_, i) => database.db.transaction(async (tx) => {
      const [first] = rowsOf<{ pid: number; name: string }>(await tx.execute(sql`select pg_backend_pid() as pid, set_config('application_name', ${`tx-${i}`}, true) as name`))
      const [second] = rowsOf<{ pid: number; name: string }>(await tx.execute(sql`select pg_backend_pid() as pid, current_setting('application_name') as name`))
      return { first, second, i }
    }))
    const outside = Array.from({ length: 30 }, () => database.query<{ name: string }>(sql`select current_setting('application_name') as name`))
    const [transactions, plain] = await Promise.all([Promise.all(inside), Promise.all(outside)])
    for (const { first, second, i } of transactions) {
      expect(second.pid).toBe(first.pid)
      expect(second.name).toBe(`tx-${i}`)
    }
    expect(plain.flat().filter((r) => r.name.startsWith('tx-'))).toEqual([])
  })

  it('rolls back what a failed statement started, and the connection serves the next transaction', async () => {
    await database.query(sql`create table if not exists tx_probe (n int primary key)`)
    await expect(database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into tx_probe values (1)`)
      await tx.execute(sql`insert into tx_probe values (1)`)
    })).rejects.toMatchObject({ cause: { code: '23505' } }) // unique_violation
    await database.db.transaction(async (tx) => { await tx.execute(sql`insert into tx_probe values (2)`) })
    expect(await database.query<{ n: number }>(sql`select n from tx_probe order by n`)).toEqual([{ n: 2 }])
  })
})
