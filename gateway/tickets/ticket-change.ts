import { sql } from 'drizzle-orm'
import { sqlState, type Database, type Tx } from '../db/database.js'
import { reusableQuery } from '../db/reusable-query.js'
import { ticketHistory, type tickets } from '../db/schema.js'
import { enqueueCustomerNotification } from '../notify/notification-outbox.js'
import { enqueueTicketEvent, type OutboxLease, type QueuedMessages } from '../outbox/outbox-store.js'
import type { WebhookEvent } from '../outbox/subscription-store.js'
import { toTicketJson } from './ticket-json.js'
import { addServiceTime, type Calendar } from './sla-clock.js'

type TicketRow = typeof tickets.$inferSelect

/**
 * What a ticket transaction queued: its webhook messages (see `QueuedMessages`) and how many
 * customer messages. Whoever delivers a kind is woken only when there is some of it: a claim that
 * finds nothing is a round trip wasted, and with it a turn of a busy gateway's loop.
 */
export type Queued = QueuedMessages & { notifications: number }

/**
 * Where a ticket transaction's outbox rows go once it commits: `outboxLease` is the local
 * dispatcher's lease for messages queued at a time (none while it is stopped), `onOutbox` gets
 * what the transaction queued (see `OutboxDispatcher.handOff`) and wakes whoever delivers it.
 */
export type OutboxLink = {
  outboxLease?: (at: Date) => OutboxLease | undefined
  onOutbox?: (queued: Queued) => void
}

export type TicketChange = {
  ticket: TicketRow
  at: Date
  actor: string
  action: string
  fromStatus?: string | null
  changes?: Record<string, unknown>
  comment?: string | null
  event: WebhookEvent | null
}

/**
 * Hands a write to the transaction without waiting for its answer (see `ticketTransaction`). The
 * write must issue all its statements at once: one issued after an answer would come after COMMIT,
 * and the driver refuses it (`TRANSACTION_ENDED`). Returns the write's outcome; a drizzle query,
 * which runs each time it is awaited, runs once.
 */
export type Alongside = <W>(write: PromiseLike<W>) => Promise<W>

/**
 * A transaction that changes tickets. Each change given to `record` goes into the ticket's history
 * and queues its CRM webhook and customer message in the same transaction: the change, its history
 * line and its outbox rows commit together or not at all. Once it commits, if anything was
 * recorded, what was queued goes to `link.onOutbox`: leased to the local dispatcher, a webhook
 * leaves straight away instead of waiting for a pass to claim it.
 *
 * A change's writes need not be waited for inside the transaction, nor need other writes whose
 * answers it does not use, given to `alongside`: they then go out with COMMIT instead of a round
 * trip before it (on a busy gateway, a turn of its loop sooner). The transaction is not done until
 * each of them succeeded: one that failed aborted it, so its COMMIT rolled back, and
 * `ticketTransaction` rejects with that write's error.
 */
export async function ticketTransaction<T>(
  database: Database, link: OutboxLink, at: Date,
  fn: (tx: Tx, record: (change: TicketChange) => Promise<void>, alongside: Alongside) => Promise<T>,
): Promise<T> {
  const lease = link.outboxLease?.(at)
  const queued: Queued = { rows: [], subscriptions: [], notifications: 0 }
  let recorded = false
  // With a lease, the first change that queues a webhook reads the subscriptions for all of them.
  let subscriptionsRead = false
  const writes: Promise<unknown>[] = []
  const alongside: Alongside = (write) => {
    const outcome = Promise.resolve(write)
    writes.push(outcome)
    outcome.catch(() => { /* answered after COMMIT, below */ })
    return outcome
  }
  const committing = database.db.transaction(async (tx) => {
    const value = await fn(tx, (change) => {
      recorded = true
      const readSubscriptions = lease !== undefined && change.event !== null && !subscriptionsRead
      subscriptionsRead ||= readSubscriptions
      return alongside(recordTicketChange(tx, change, lease, readSubscriptions).then(({ webhooks, notified }) => {
        if (notified) queued.notifications++
        if (!webhooks) return
        queued.rows.push(...webhooks.rows)
        if (readSubscriptions) queued.subscriptions = webhooks.subscriptions
      }))
    }, alongside)
    // A write reaches its connection (the drivers keep statements in order) within the microtasks
    // of the turn it was issued in. COMMIT follows once they all have run: Node runs a tick queued
    // from a microtask after the microtask queue is empty. It does not wait for their answers, nor
    // for the rest of the turn (setImmediate would wait out every other socket the turn reads).
    if (writes.length > 0) await new Promise((resolve) => process.nextTick(resolve))
    return value
  })
  // A write that failed aborted the transaction: PostgreSQL answers its COMMIT with ROLLBACK, which
  // postgres.js takes for success and PGlite reports as a rollback. Either way the write's own
  // error says why.
  const committed = await committing.then((value) => ({ value }), (error: unknown) => ({ error }))
  const failed = await firstFailure(writes)
  if (failed) throw failed
  if ('error' in committed) throw committed.error
  if (recorded) link.onOutbox?.(queued)
  return committed.value
}

/** The first write's error, in the order they were issued, that is not "the transaction had already failed". */
async function firstFailure(writes: Promise<unknown>[]): Promise<unknown> {
  for (const write of writes) {
    const error = await write.then(() => undefined, (e: unknown) => e ?? new Error('a write failed'))
    if (error && sqlState(error) !== IN_FAILED_TRANSACTION) return error
  }
  return undefined
}

const IN_FAILED_TRANSACTION = '25P02'

async function recordTicketChange(
  tx: Tx, change: TicketChange, lease: OutboxLease | undefined, readSubscriptions: boolean,
): Promise<{ webhooks: QueuedMessages | undefined; notified: boolean }> {
  // Issued together, so they share the round trips to the database (postgres.js pipelines them).
  const [, webhooks, notified] = await Promise.all([
    insertHistory(tx, {
      ticketId: change.ticket.id, at: change.at, actor: change.actor, action: change.action,
      fromStatus: change.fromStatus ?? null, toStatus: change.ticket.status, changes: change.changes ?? {}, comment: change.comment ?? null,
    }),
    change.event ? enqueueTicketEvent(tx, { type: change.event, ticket: toTicketJson(change.ticket) }, change.at, lease, readSubscriptions) : undefined,
    enqueueCustomerNotification(tx, { ticket: change.ticket, event: change.event, action: change.action, fromStatus: change.fromStatus ?? null, at: change.at }),
  ])
  return { webhooks, notified }
}

// Every ticket change writes one (see reusableQuery).
const insertHistory = reusableQuery((db) => db.insert(ticketHistory).values({
  ticketId: sql.placeholder('ticketId'), at: sql.placeholder('at'), actor: sql.placeholder('actor'), action: sql.placeholder('action'),
  fromStatus: sql.placeholder('fromStatus'), toStatus: sql.placeholder('toStatus'), changes: sql.placeholder('changes'), comment: sql.placeholder('comment'),
}))

/**
 * When warning level `level` (1-based) falls due: that fraction of the SLA in service time on the
 * calendar, shifted by time spent paused. Undefined past the last level.
 */
export function escalationDueAt(t: Pick<TicketRow, 'openedAt' | 'slaMs' | 'slaPausedMs'>, level: number, policy: { warnLevels: readonly number[]; calendar: Calendar }, timeZone: string): Date | null {
  const fraction = policy.warnLevels[level - 1]
  if (fraction === undefined) return null
  return new Date(addServiceTime(t.openedAt.getTime(), fraction * t.slaMs, policy.calendar, timeZone) + t.slaPausedMs)
}

/** When the SLA is breached: its full duration in service time, shifted by time spent paused. */
export function slaDueAt(t: Pick<TicketRow, 'openedAt' | 'slaMs' | 'slaPausedMs'>, policy: { calendar: Calendar }, timeZone: string): Date {
  return new Date(addServiceTime(t.openedAt.getTime(), t.slaMs, policy.calendar, timeZone) + t.slaPausedMs)
}
