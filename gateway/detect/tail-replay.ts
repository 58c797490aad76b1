import { and, asc, eq, gt, gte, inArray, lte, or } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { devices, readings } from '../db/schema.js'

const PAGE = 5000
export type StoredReading = typeof readings.$inferSelect

/**
 * Streams the tail of stored readings — those received since `since` — oldest first by event
 * time, up to id `upToId`, optionally only for devices of some types, page by page so memory
 * stays flat. The tail is cut by arrival, not event time: a device that just uploaded hours of
 * buffered readings is rebuilt from all of them.
 */
export async function replayTail(database: Database, opts: { since: Date; upToId: number; deviceTypes?: string[] }, visit: (r: StoredReading) => Promise<void> | void): Promise<number> {
  let cursor = { ts: 0, id: 0 }
  let replayed = 0
  const ofTypes = opts.deviceTypes
    ? inArray(readings.deviceId, database.db.select({ id: devices.id }).from(devices).where(inArray(devices.typeId, opts.deviceTypes)))
    : undefined
  for (;;) {
    const page = await database.db.select().from(readings)
      .where(and(gte(readings.receivedAt, opts.since), lte(readings.id, opts.upToId), ofTypes,
        or(gt(readings.ts, cursor.ts), and(eq(readings.ts, cursor.ts), gt(readings.id, cursor.id)))))
      .orderBy(asc(readings.ts), asc(readings.id)).limit(PAGE)
    for (const r of page) await visit(r)
    replayed += page.length
    if (page.length < PAGE) return replayed
    cursor = { ts: page[page.length - 1].ts, id: page[page.length - 1].id }
  }
}
