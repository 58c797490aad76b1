import { and, desc, eq, lt, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { rejections } from '../db/schema.js'

/** Refused messages, newest first, for the device owner or ops to see what a device got wrong. */
export async function listRejections(database: Database, f: { deviceId?: string; reason?: string; before?: number; limit: number }) {
  const where: SQL[] = []
  if (f.deviceId) where.push(eq(rejections.deviceId, f.deviceId))
  if (f.reason) where.push(eq(rejections.reason, f.reason))
  if (f.before) where.push(lt(rejections.id, f.before))
  return database.db.select().from(rejections).where(and(...where)).orderBy(desc(rejections.id)).limit(f.limit)
}
