import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { openTestDatabase } from '../support/databases.js'

describe('PostgreSQL pool', () => {
  let database: Database
  beforeAll(async () => { database = await openTestDatabase('postgres', { poolSize: 3 }) })
  afterAll(async () => { await database.close() })

  it('opens at most DATABASE_POOL_MAX connections, and uses them side by side', async () => {
    const pids = await Promise.all(Array.from({ length: 12 }, () =>
      database.query<{ pid: number }>(sql`select pg_backend_pid() as pid, pg_sleep(0.05)`).then(([r]) => r.pid)))
    const distinct = new Set(pids).size
    expect(distinct).toBeGreaterThan(1)
    expect(distinct).toBeLessThanOrEqual(3)
  })
})
