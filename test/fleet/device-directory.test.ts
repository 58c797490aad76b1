import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database, Db } from '../../gateway/db/database.js'
import * as schema from '../../gateway/db/schema.js'
import { createDeviceDirectory } from '../../gateway/fleet/device-directory.js'
import { createFleetStore, customerInput, deviceInput, deviceTypeInput } from '../../gateway/fleet/fleet-store.js'
import { openTestDatabase } from '../support/databases.js'

describe('device directory', () => {
  let seeded: Awaited<ReturnType<typeof openTestDatabase>>
  let client: postgres.Sql
  /** What the directory under test sent to PostgreSQL, through drizzle's query log. */
  const queries: string[] = []
  let watched: Database
  beforeAll(async () => {
    seeded = await openTestDatabase('postgres')
    const fleet = createFleetStore(seeded, createDeviceDirectory(seeded))
    await fleet.upsertDeviceType(deviceTypeInput.parse({ id: 'washer', name: 'Washer', metrics: { drain_time_s: { unit: 's', min: 0 } } }))
    await fleet.createCustomer(customerInput.parse({ id: 'c1', name: 'Ada', timezone: 'Europe/Berlin', tags: ['vip'] }))
    await fleet.createDevice(deviceInput.parse({ id: 'd0', typeId: 'washer', customerId: 'c1', model: 'W9' }))
    // The rest straight into the table: hashing 1,499 secrets would be most of the test.
    await seeded.db.insert(schema.devices).values(Array.from({ length: 1499 }, (_, i) => ({ id: `d${i + 1}`, typeId: 'washer', secretHash: 'unused' })))
    client = postgres(seeded.url!, { max: 4, onnotice: () => {} })
    const db = drizzle({ client, schema, casing: 'snake_case', logger: { logQuery: (query) => queries.push(query) } }) as unknown as Db
    watched = { db, kind: 'postgres', query: () => { throw new Error('not used by the directory') }, lane: () => watched, close: () => client.end() }
  })
  afterAll(async () => {
    await client?.end()
    await seeded?.close()
  })

  it('looks up the devices asked for in one turn together, a query for up to 1,000, and caches what it found', async () => {
    const directory = createDeviceDirectory(watched)
    queries.length = 0
    const ids = [...Array.from({ length: 1500 }, (_, i) => `d${i}`), 'nobody']
    const profiles = await Promise.all(ids.map((id) => directory.get(id)))
    expect(queries).toHaveLength(2)
    expect(profiles.slice(0, 1500).map((p) => p?.id)).toEqual(ids.slice(0, 1500))
    expect(profiles[1500]).toBeUndefined()
    expect(profiles[0]).toMatchObject({ typeId: 'washer', customerId: 'c1', customerTags: ['vip'], customerTimezone: 'Europe/Berlin', model: 'W9', attributes: { model: 'W9', customerTags: ['vip'] } })
    expect(profiles[1]).toMatchObject({ customerId: null, customerTags: [], customerTimezone: 'UTC', attributes: { customerTags: [] } })

    // Cached: no query. Not found: asked again next time (it may have been registered since).
    expect(directory.peek('d7')?.id).toBe('d7')
    queries.length = 0
    await Promise.all([directory.get('d7'), directory.get('nobody')])
    expect(queries).toHaveLength(1)
  })

  it('answers every caller of a lookup that failed with its error, and tries again on the next ask', async () => {
    const nowhere = postgres('postgres://postgres@127.0.0.1:1/none', { max: 1, connect_timeout: 1 })
    try {
      const failing = createDeviceDirectory({ ...watched, db: drizzle({ client: nowhere, schema }) as unknown as Db })
      const first = failing.get('d1')
      const outcomes = await Promise.allSettled([first, failing.get('d2')])
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected'])
      expect(failing.peek('d1')).toBeUndefined()
      const again = failing.get('d1')
      expect(again).not.toBe(first)
      await expect(again).rejects.toThrow()
    } finally {
      await nowhere.end()
    }
  })
})
