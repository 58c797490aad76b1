import { and, eq, ne } from 'drizzle-orm'
import type { Db, Tx } from '../db/database.js'
import { deliveryAttempts, outbox, webhookSubscriptions } from '../db/schema.js'
import type { DeliveryResult } from './deliver-webhook.js'
import type { OutboxRow } from './outbox-store.js'
import { nextAttemptDelay } from './retry-schedule.js'

/** What became of the message after an attempt: the label of `precall_deliveries_total`. */
export type Disposition = 'delivered' | 'retry' | 'dead' | 'gone' | 'give_up'

export const GONE_REASON = 'receiver answered 410 Gone'

/**
 * Logs the attempt and moves the message on, atomically so the log and the state never disagree.
 * The update only applies while this worker still holds the row; if another worker took it over
 * after the lease ran out, that worker's attempt decides (delivery is at-least-once).
 */
export async function recordOutcome(db: Db, input: {
  row: OutboxRow
  result: DeliveryResult
  startedAt: number
  durationMs: number
  now: number
  workerId: string
  retryScheduleMs: readonly number[]
  random: () => number
}): Promise<{ disposition: Disposition; nextAttemptAt?: Date }> {
  const { row, result, now } = input
  const attempt = row.attempts + 1
  const error = 'error' in result ? result.error : result.outcome === 'gone' ? GONE_REASON : null
  const released = { attempts: attempt, lockedUntil: null, lockedBy: null }

  let disposition: Disposition
  let set: Partial<typeof outbox.$inferInsert>
  let nextAttemptAt: Date | undefined
  if (result.outcome === 'delivered') {
    disposition = 'delivered'
    set = { ...released, status: 'delivered', deliveredAt: new Date(now), lastError: null }
  } else if (result.outcome === 'retry') {
    const scheduled = nextAttemptDelay(attempt, input.retryScheduleMs, input.random)
    // Retry-After chooses when, never whether: a receiver cannot keep a message alive forever.
    if (scheduled === null) {
      disposition = 'dead'
      set = { ...released, status: 'dead', lastError: `gave up after ${attempt} attempts; last: ${error}` }
    } else {
      disposition = 'retry'
      nextAttemptAt = new Date(now + (result.retryAfterMs ?? scheduled))
      set = { ...released, nextAttemptAt, lastError: error }
    }
  } else {
    disposition = result.outcome
    set = { ...released, status: 'dead', lastError: error }
  }

  const attemptRow = {
    outboxId: row.id,
    attempt,
    startedAt: new Date(input.startedAt),
    durationMs: input.durationMs,
    statusCode: result.statusCode ?? null,
    outcome: result.outcome,
    error,
  }
  const stillMine = and(eq(outbox.id, row.id), eq(outbox.status, 'pending'), eq(outbox.lockedBy, input.workerId))
  // One statement (the attempt goes in through a data-modifying CTE), so as atomic as a
  // transaction in one round trip instead of four: on a busy gateway each round trip waits its
  // turn on the event loop, and every delivery makes one.
  const logAndMove = (q: Db | Tx) =>
    q.with(q.$with('logged').as(q.insert(deliveryAttempts).values(attemptRow).returning({ id: deliveryAttempts.id })))
      .update(outbox).set(set).where(stillMine)
  if (result.outcome !== 'gone') {
    await logAndMove(db)
    return { disposition, nextAttemptAt }
  }
  await db.transaction(async (tx) => {
    await logAndMove(tx)
    // Standard Webhooks: 410 means the endpoint is gone for good — stop sending, keep the history.
    await tx.update(webhookSubscriptions)
      .set({ enabled: false, disabledReason: GONE_REASON, updatedAt: new Date(now) })
      .where(eq(webhookSubscriptions.id, row.subscriptionId))
    await tx.update(outbox)
      .set({ status: 'cancelled', lockedUntil: null, lockedBy: null, lastError: GONE_REASON })
      .where(and(eq(outbox.subscriptionId, row.subscriptionId), eq(outbox.status, 'pending'), ne(outbox.id, row.id)))
  })
  return { disposition, nextAttemptAt }
}
