import { and, asc, eq, gt, gte, inArray, lte, max, or } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { devices, readings } from '../db/schema.js'

const PAGE = 5000
export type StoredReading = typeof readings.$inferSelect

/**
 * The id of the last reading the tail since `since` holds (0 for none): `replayTail`'s `upToId`,
 * so readings committed after it are left to whoever holds them. Among the tail's rows, which the
 * block range index on received_at finds: no index serves max(id) over the whole table.
 */
export async function tailEnd(database: Database, since: Date): Promise<number> {
  const [row] = await database.db.select({ id: max(readings.id) }).from(readings).where(gte(readings.receivedAt, since))
  return Number(row?.id ?? 0)
}

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
