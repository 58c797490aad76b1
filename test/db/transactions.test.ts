import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { turnsTaken } from '../support/busy-loop.js'
import { openTestDatabase } from '../support/databases.js'

const rowsOf = <T>(result: unknown) => [...(result as T[])]

// patches/postgres+3.4.9.patch: a plain BEGIN is not waited for; the transaction's first statements
// follow it on the connection it reserved. PostgreSQL only: PGlite has no round trips to save.
describe('PostgreSQL transactions', () => {
  let database: Database
  // Few connections, so transactions and plain queries compete for them.
  beforeAll(async () => { database = await openTestDatabase('postgres', { poolSize: 2 }) })
  afterAll(async () => { await database.close() })

  it('sends the first statements with BEGIN: one statement and COMMIT take two turns of a busy loop, not three', async () => {
    const transaction = () => database.db.transaction(async (tx) => { await tx.execute(sql`select 1`) })
    for (let i = 0; i < 4; i++) await transaction() // both connections open and warm
    const transactions = 10
    const turns = await turnsTaken(20, async () => {
      for (let i = 0; i < transactions; i++) await transaction()
    })
    // Waiting for BEGIN's answer: exactly 3 turns a transaction. The slack allows for a database
    // slow to answer now and then.
    expect(turns / transactions).toBeLessThan(2.5)
  })

  it('sends statements beyond the 100 it keeps in flight together too, not one a turn', async () => {
    const statements = 250
    const transaction = () => database.db.transaction(async (tx) => {
      await Promise.all(Array.from({ length: statements }, (_, i) => tx.execute(sql`select ${i}::int as i`)))
    })
    await transaction() // statements prepared
    // Stock: 100 in one round trip, then the other 150 one round trip each (over 150 turns).
    expect(await turnsTaken(5, transaction)).toBeLessThan(20)
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

  it('fails a transaction whose statement cannot be sent (an undefined parameter) instead of waiting forever', async () => {
    await database.query(sql`create table if not exists tx_unsent (n int primary key, v jsonb)`)
    const failed = await database.db.transaction(async (tx) => {
      await Promise.all([
        tx.execute(sql`insert into tx_unsent values (1, ${sql.param(undefined)})`),
        tx.execute(sql`insert into tx_unsent values (2, '{}')`),
      ])
    }).then(() => 'committed', (err: unknown) => String((err as { cause?: unknown }).cause ?? err))
    expect(failed).toMatch(/UNDEFINED_VALUE/)
    await database.db.transaction(async (tx) => { await tx.execute(sql`insert into tx_unsent values (3, '{}')`) })
    expect(await database.query<{ n: number }>(sql`select n from tx_unsent order by n`)).toEqual([{ n: 3 }])
  }, 10_000)
})
