import { eq, inArray, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { devices } from '../../gateway/db/schema.js'
import { openTestDatabase } from '../support/databases.js'

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

  it('leaves queries with many parameters unprepared, so varying lists do not pile up statements', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `d-${i}`)
    const statements = await database.db.transaction(async (tx) => {
      await tx.select().from(devices).where(inArray(devices.id, ids))
      return preparedOnThisConnection(tx)
    })
    expect(statements.some((s) => s.includes('$40'))).toBe(false)
  })
})
