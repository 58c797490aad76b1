import { eq } from 'drizzle-orm'
import type { Db } from '../db/database.js'
import { newId } from '../db/ids.js'
import { notifications } from '../db/notify-schema.js'
import type { customers } from '../db/schema.js'
import { PENDING, settleNotification, type NotificationRow } from './claim-notifications.js'
import type { NotifyOutcome } from './deliver-notification.js'
import { localDate, nextDayStart, type QuietHours } from './local-time.js'

/**
 * A message over the customer's daily cap joins the digest due at the next allowed time (the next
 * local day, after quiet hours). The digest is one row per customer and day under a unique key,
 * so racing workers join the same one. If that digest is already on its way, the message waits
 * for the next day instead and takes its chances under that day's cap.
 */
export async function mergeIntoDigest(db: Db, opts: {
  row: NotificationRow
  customer: typeof customers.$inferSelect
  window: QuietHours | null
  cap: number
  workerId: string
  now: number
}): Promise<NotifyOutcome> {
  const { row, customer, now } = opts
  const dueAt = new Date(nextDayStart(now, opts.window, customer.timezone))
  const dedupKey = `digest:${customer.id}:${localDate(dueAt.getTime(), customer.timezone)}`
  const at = new Date(now)
  return db.transaction(async (tx) => {
    await tx.insert(notifications).values({
      messageId: newId('ntf', now), dedupKey, customerId: customer.id, kind: 'digest', payload: {},
      status: 'deferred', reason: 'digest of messages over the daily cap', nextAttemptAt: dueAt, createdAt: at, updatedAt: at,
    }).onConflictDoNothing({ target: notifications.dedupKey })
    const [digest] = await tx.select().from(notifications).where(eq(notifications.dedupKey, dedupKey)).for('update')
    const open = (PENDING as readonly string[]).includes(digest.status) && !(digest.lockedUntil && digest.lockedUntil.getTime() > now)
    const ok = open
      ? await settleNotification(tx, row, opts.workerId, {
        status: 'suppressed', reason: `daily cap of ${opts.cap} reached: merged into digest ${digest.messageId}`, digestId: digest.id, updatedAt: at,
      })
      : await settleNotification(tx, row, opts.workerId, { status: 'deferred', reason: `daily cap of ${opts.cap} reached`, nextAttemptAt: dueAt, updatedAt: at })
    if (!ok) return 'lost_lease'
    return open ? 'digested' : 'deferred'
  })
}
