import { and, eq, ne, sql } from 'drizzle-orm'
import type { Db } from '../db/database.js'
import { reusableQuery, valueOf } from '../db/reusable-query.js'
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

  // What the row becomes: still pending for a retry (at a new time), else delivered or dead (and
  // keeping the time it had).
  let disposition: Disposition
  let move: { status: 'pending' | 'delivered' | 'dead'; lastError: string | null; nextAttemptAt: Date | null }
  if (result.outcome === 'delivered') {
    disposition = 'delivered'
    move = { status: 'delivered', lastError: null, nextAttemptAt: null }
  } else if (result.outcome === 'retry') {
    const scheduled = nextAttemptDelay(attempt, input.retryScheduleMs, input.random)
    // Retry-After chooses when, never whether: a receiver cannot keep a message alive forever.
    if (scheduled === null) {
      disposition = 'dead'
      move = { status: 'dead', lastError: `gave up after ${attempt} attempts; last: ${error}`, nextAttemptAt: null }
    } else {
      disposition = 'retry'
      move = { status: 'pending', lastError: error, nextAttemptAt: new Date(now + (result.retryAfterMs ?? scheduled)) }
    }
  } else {
    disposition = result.outcome
    move = { status: 'dead', lastError: error, nextAttemptAt: null }
  }
  const nextAttemptAt = move.nextAttemptAt ?? undefined

  const values = {
    id: row.id, workerId: input.workerId, attempt, status: move.status, lastError: move.lastError,
    nextAttemptAt: move.nextAttemptAt ?? row.nextAttemptAt, deliveredAt: result.outcome === 'delivered' ? new Date(now) : null,
    startedAt: new Date(input.startedAt), durationMs: input.durationMs, statusCode: result.statusCode ?? null, outcome: result.outcome, error,
  }
  if (result.outcome !== 'gone') {
    await logAndMove(db, values)
    return { disposition, nextAttemptAt }
  }
  await db.transaction(async (tx) => {
    await logAndMove(tx, values)
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

/**
 * Logs the attempt and moves the row in one statement (the attempt goes in through a
 * data-modifying CTE), so as atomic as a transaction in one round trip instead of four: on a busy
 * gateway each round trip waits its turn on the event loop, and every delivery makes one. The row
 * moves only while this worker still holds it. Built once (see reusableQuery).
 */
const logAndMove = reusableQuery((db) => db
  .with(db.$with('logged').as(db.insert(deliveryAttempts).values({
    outboxId: sql.placeholder('id'), attempt: sql.placeholder('attempt'), startedAt: sql.placeholder('startedAt'), durationMs: sql.placeholder('durationMs'),
    statusCode: sql.placeholder('statusCode'), outcome: sql.placeholder('outcome'), error: sql.placeholder('error'),
  }).returning({ id: deliveryAttempts.id })))
  .update(outbox)
  .set({
    attempts: valueOf<number>('attempt'), lockedUntil: null, lockedBy: null, status: valueOf<string>('status'), lastError: valueOf<string | null>('lastError'),
    deliveredAt: valueOf<Date | null>('deliveredAt'), nextAttemptAt: valueOf<Date>('nextAttemptAt'),
  })
  .where(and(eq(outbox.id, sql.placeholder('id')), eq(outbox.status, 'pending'), eq(outbox.lockedBy, sql.placeholder('workerId')))))
