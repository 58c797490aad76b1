import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { publishBurst, startTestGateway } from '../support/gateway.js'

describe('ingest on PostgreSQL', () => {
  it('stores readings over connections of its own, at most 4, named in pg_stat_activity; the pool stores none', async () => {
    const t = await startTestGateway('postgres')
    try {
      const sent = await publishBurst(t, `lane${process.pid}`, 3, 40)
      const backends = await t.gateway.database.query<{ name: string; query: string }>(sql`
        select application_name as name, query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)
      const storing = (b: { query: string }) => /^\s*insert into readings/i.test(b.query)
      const ingest = backends.filter((b) => b.name === 'precall ingest')
      expect(ingest.length).toBeGreaterThanOrEqual(1)
      expect(ingest.length).toBeLessThanOrEqual(4)
      expect(ingest.every(storing)).toBe(true)
      expect(backends.filter((b) => b.name === 'precall').some(storing)).toBe(false)
      const [{ n }] = await t.gateway.database.query<{ n: number }>(sql`select count(*)::int as n from readings where device_id like ${`lane${process.pid}-%`}`)
      expect(n).toBe(sent)
    } finally {
      await t.close()
    }
  })
})
