import { and, asc, desc, eq, inArray, or, sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { notificationAttempts, notifications } from '../db/notify-schema.js'
import { PrecallError } from '../errors.js'

export const NOTIFICATION_STATUSES = ['queued', 'deferred', 'sent', 'delivered', 'failed', 'suppressed'] as const
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number]

type Row = typeof notifications.$inferSelect
type Attempt = typeof notificationAttempts.$inferSelect
/** A message with its attempt log, oldest attempt first; `failed` messages are the dead letters. */
export type Notification = Omit<Row, 'lockedBy'> & { attemptLog: Attempt[] }

export type StatusReport = { messageId?: string; providerMessageId?: string; status: 'delivered' | 'failed'; error?: string }

/** Delivery tracking: what was sent to whom, how it went, and what the providers reported since. */
export function createNotificationStore(database: Database, opts: { now?: () => number } = {}) {
  const { db } = database
  const now = opts.now ?? Date.now

  async function withAttemptLog(rows: Row[]): Promise<Notification[]> {
    if (rows.length === 0) return []
    const attempts = await db.select().from(notificationAttempts)
      .where(inArray(notificationAttempts.notificationId, rows.map((r) => r.id))).orderBy(asc(notificationAttempts.id))
    return rows.map(({ lockedBy: _lockedBy, ...r }) => ({ ...r, attemptLog: attempts.filter((a) => a.notificationId === r.id) }))
  }

  async function get(id: number): Promise<Notification | undefined> {
    const [row] = await db.select().from(notifications).where(eq(notifications.id, id))
    return row && (await withAttemptLog([row]))[0]
  }

  return {
    get,

    /** Newest first. */
    async list(filter: { status?: NotificationStatus; customerId?: string; ticketId?: string; kind?: string; limit?: number } = {}): Promise<Notification[]> {
      const where: SQL[] = []
      if (filter.status) where.push(eq(notifications.status, filter.status))
      if (filter.customerId) where.push(eq(notifications.customerId, filter.customerId))
      if (filter.ticketId) where.push(eq(notifications.ticketId, filter.ticketId))
      if (filter.kind) where.push(eq(notifications.kind, filter.kind))
      const rows = await db.select().from(notifications).where(and(...where))
        .orderBy(desc(notifications.id)).limit(Math.min(Math.max(filter.limit ?? 50, 1), 500))
      return withAttemptLog(rows)
    },

    /** The messages about these tickets (for a ticket's page and the agent's screen), newest first. */
    async listForTickets(ticketIds: string[], limit = 200): Promise<Notification[]> {
      if (ticketIds.length === 0) return []
      const rows = await db.select().from(notifications).where(inArray(notifications.ticketId, ticketIds))
        .orderBy(desc(notifications.id)).limit(limit)
      return withAttemptLog(rows)
    },

    /**
     * Queues a dead letter (or a suppressed message, say after consent came back) again, due now,
     * with the same message id. Channels that failed before are tried again: the log marks where.
     */
    async replay(id: number, actor: string | null): Promise<Notification> {
      const at = new Date(now())
      const replayed = await db.transaction(async (tx) => {
        const [row] = await tx.update(notifications)
          .set({ status: 'queued', rounds: 0, nextAttemptAt: at, lockedUntil: null, lockedBy: null, reason: `replayed by ${actor ?? 'an operator'}`, lastError: null, updatedAt: at })
          .where(and(eq(notifications.id, id), inArray(notifications.status, ['failed', 'suppressed']), sql`${notifications.digestId} is null`))
          .returning({ id: notifications.id })
        if (row) await tx.insert(notificationAttempts).values({ notificationId: id, round: 0, channel: '*', outcome: 'replayed', startedAt: at, error: actor })
        return row
      })
      if (!replayed) {
        const existing = await get(id)
        if (!existing) throw new PrecallError('NOT_FOUND', `notification ${id} not found`)
        throw new PrecallError('CONFLICT', `notification ${id} is ${existing.status}${existing.digestId ? ' (in a digest)' : ''}; only failed or suppressed messages can be replayed`)
      }
      return (await get(id))!
    },

    /**
     * A provider's delivery report. `delivered` settles the message; `failed` rules that channel out
     * for it and queues it again, so the next pass falls over to the customer's next channel.
     * Reports are idempotent: a repeated or late one changes nothing.
     */
    async reportStatus(channel: string, report: StatusReport): Promise<Notification> {
      const ids: SQL[] = []
      if (report.messageId) ids.push(eq(notifications.messageId, report.messageId))
      if (report.providerMessageId) ids.push(eq(notifications.providerMessageId, report.providerMessageId))
      if (ids.length === 0) throw new PrecallError('VALIDATION', 'name the message: messageId or providerMessageId')
      const at = new Date(now())
      const id = await db.transaction(async (tx) => {
        const [row] = await tx.select().from(notifications).where(and(eq(notifications.channel, channel), or(...ids))).for('update')
        if (!row) throw new PrecallError('NOT_FOUND', `no ${channel} message ${report.messageId ?? report.providerMessageId}`)
        if (row.status !== 'sent') return row.id
        const attempt = { notificationId: row.id, round: row.rounds, channel, address: row.address, startedAt: at, providerMessageId: row.providerMessageId }
        if (report.status === 'delivered') {
          await tx.insert(notificationAttempts).values({ ...attempt, outcome: 'delivered' })
          await tx.update(notifications).set({ status: 'delivered', deliveredAt: at, updatedAt: at }).where(eq(notifications.id, row.id))
        } else {
          const error = report.error ?? 'the provider reported a failed delivery'
          await tx.insert(notificationAttempts).values({ ...attempt, outcome: 'failed', error })
          await tx.update(notifications).set({ status: 'queued', nextAttemptAt: at, lastError: `${channel}: ${error}`, reason: null, sentAt: null, updatedAt: at })
            .where(eq(notifications.id, row.id))
        }
        return row.id
      })
      return (await get(id))!
    },
  }
}

export type NotificationStore = ReturnType<typeof createNotificationStore>
