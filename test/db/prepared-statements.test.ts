import { eq, inArray, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { reusableQuery } from '../../gateway/db/reusable-query.js'
import { devices } from '../../gateway/db/schema.js'
import { openTestDatabase } from '../support/databases.js'
import { turnsTaken } from '../support/busy-loop.js'

// PostgreSQL only: PGlite has no wire protocol round trips to save.
describe('PostgreSQL statements', () => {
  let database: Database
  beforeAll(async () => { database = await openTestDatabase('postgres') })
  afterAll(async () => { await database.close() })

  const preparedOnThisConnection = (tx: Parameters<Parameters<Database['db']['transaction']>[0]>[0]) =>
    tx.execute(sql`select statement from pg_prepared_statements`).then((rows) => [...(rows as unknown as { statement: string }[])].map((r) => r.statement))

  it('prepares fixed-shape queries once per connection, in transactions too', async () => {
    const statements = await database.db.transaction(async (tx) => {
      await tx.select().from(devices).where(eq(devices.id, 'a'))
      await tx.select().from(devices).where(eq(devices.id, 'b'))
      return preparedOnThisConnection(tx)
    })
    expect(statements.filter((s) => s.includes('from "devices" where "devices"."id" = $1'))).toHaveLength(1)
  })

  /** Whether a query with `n` parameters (an IN list of n ids) was prepared on its connection. */
  const preparedWithParams = (n: number) => database.db.transaction(async (tx) => {
    await tx.select().from(devices).where(inArray(devices.id, Array.from({ length: n }, (_, i) => `d-${i}`)))
    return (await preparedOnThisConnection(tx)).some((s) => s.includes(`$${n}`))
  })

  it('leaves queries with many parameters unprepared, so varying lists do not pile up statements', async () => {
    expect(await preparedWithParams(40)).toBe(false)
  })

  it('prepares a statement of up to 32 parameters', async () => {
    expect(await preparedWithParams(22)).toBe(true)
  })

  // Unprepared, a statement costs a round trip more (describe, then bind and execute): the
  // detection's statement, with 40 parameters, would have given back the round trip it saves.
  it('prepares a reusable query however many parameters it takes: its text never varies', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `d-${i}`)
    const byIds = reusableQuery((db) => db.select().from(devices).where(inArray(devices.id, ids.map((id) => sql.placeholder(id)))))
    const prepared = await database.db.transaction(async (tx) => {
      await byIds(tx, Object.fromEntries(ids.map((id) => [id, id])))
      return (await preparedOnThisConnection(tx)).some((s) => s.includes('$40'))
    })
    expect(prepared).toBe(true)
  })

  // patches/postgres+3.4.9.patch: postgres.js wrote small queries at setImmediate, after which the
  // loop polled again at once, before the answer was back, so each round trip took two turns.
  it('has a query answered within the next turn of an event loop kept busy by socket reads', async () => {
    await database.query(sql`select 1`)
    const queries = 10
    const turns = await turnsTaken(20, async () => {
      for (let i = 0; i < queries; i++) await database.query(sql`select ${i}::int as i`)
    })
    // Unpatched: exactly 2 turns a query. The slack allows for a database slow to answer now and then.
    expect(turns / queries).toBeLessThan(1.5)
  })
})
