import { and, eq, sql } from 'drizzle-orm'
import type { Db, Tx } from '../db/database.js'
import { notificationQuota } from '../db/notify-schema.js'

/**
 * Takes one of the customer's slots for `day`, unless `cap` are taken already; a null cap counts
 * without limit (critical messages, digests). The row lock of the upsert serialises workers, so
 * two of them can never both take the last slot.
 */
export async function reserveSlot(tx: Tx, slot: { customerId: string; day: string; cap: number | null }): Promise<boolean> {
  const rows = await tx.insert(notificationQuota).values({ customerId: slot.customerId, day: slot.day, used: 1 })
    .onConflictDoUpdate({
      target: [notificationQuota.customerId, notificationQuota.day],
      set: { used: sql`${notificationQuota.used} + 1` },
      ...(slot.cap === null ? {} : { setWhere: sql`${notificationQuota.used} < ${slot.cap}` }),
    })
    .returning({ used: notificationQuota.used })
  // A first insert succeeds whatever the cap; a cap below one is refused by the preferences schema.
  return rows.length === 1
}

/** Gives back the slot of a message that will not be sent after all. */
export async function releaseSlot(db: Db | Tx, slot: { customerId: string; day: string }): Promise<void> {
  await db.update(notificationQuota).set({ used: sql`greatest(${notificationQuota.used} - 1, 0)` })
    .where(and(eq(notificationQuota.customerId, slot.customerId), eq(notificationQuota.day, slot.day)))
}
