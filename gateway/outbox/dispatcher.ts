import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Dispatcher as HttpDispatcher } from 'undici'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import { randomSecret } from '../db/ids.js'
import type { webhookSubscriptions } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { claimDue, renewLease } from './claim-due.js'
import { deliverWebhook } from './deliver-webhook.js'
import { selectEnabledSubscriptions, type OutboxLease, type OutboxRow, type QueuedMessages } from './outbox-store.js'
import { recordOutcome } from './record-outcome.js'
import { createSafeAgent } from './safe-address.js'
import { signWebhook } from './sign.js'

type Subscription = typeof webhookSubscriptions.$inferSelect

export type DispatcherOptions = {
  database: Database
  config: Config['outbox']
  log: Logger
  metrics: Pick<Metrics, 'deliveries'>
  now?: () => number
  random?: () => number
  workerId?: string
  /** Rows claimed per pass. */
  batchSize?: number
  /** Subscriptions delivered to at once. */
  concurrency?: number
  /** Messages sent at once to one subscription, across passes (never two of one ticket). */
  perSubscription?: number
  /** Passes under way at once: a wake starts one straight away rather than after the current pass. */
  passes?: number
}

/**
 * Delivers the outbox: claim due rows with a lease, sign, POST, record, repeat. `runOnce` is one
 * pass (tests drive it with their own clock); `start` polls, and `wake` starts a pass when a
 * transaction has just queued something. Passes overlap (SKIP LOCKED keeps their claims apart, and
 * the claim holds back a ticket's later message while an earlier one is pending): waiting for the
 * pass under way, a new ticket's webhook waited behind every round trip of up to 32 others, which
 * on a gateway busy with 20k readings/s took a second or more.
 */
export function createDispatcher(opts: DispatcherOptions) {
  const { database, config, log, metrics } = opts
  const now = opts.now ?? Date.now
  const random = opts.random ?? Math.random
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomSecret(4)}`
  const batchSize = opts.batchSize ?? 32
  const concurrency = opts.concurrency ?? 8
  const perSubscription = opts.perSubscription ?? 8
  const maxPasses = opts.passes ?? 4
  const slots = createKeyedLimit(perSubscription)
  const agent: HttpDispatcher = createSafeAgent({ allowPrivate: config.allowPrivateAddresses, connectTimeoutMs: config.timeoutMs })
  if (config.leaseMs <= config.timeoutMs) log.warn({ leaseMs: config.leaseMs, timeoutMs: config.timeoutMs }, 'dispatch lease shorter than webhook timeout: slow receivers may get duplicates')

  async function send(row: OutboxRow, subscription: Subscription): Promise<void> {
    const startedAt = now()
    const body = JSON.stringify(row.payload)
    const secrets = subscription.secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > startedAt).map((s) => s.secret)
    const timestamp = Math.floor(startedAt / 1000)
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'precall-webhooks/1',
      'webhook-id': row.messageId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook({ secrets, id: row.messageId, timestamp, body }),
    }
    const t0 = performance.now()
    const result = await deliverWebhook({ url: subscription.url, headers, body, timeoutMs: config.timeoutMs, dispatcher: agent, now })
    const durationMs = Math.round(performance.now() - t0)
    const { disposition, nextAttemptAt } = await recordOutcome(database.db, {
      row, result, startedAt, durationMs, now: now(), workerId, retryScheduleMs: config.retryScheduleMs, random,
    })
    metrics.deliveries.inc({ outcome: disposition })
    const detail = { outboxId: row.id, messageId: row.messageId, subscriptionId: row.subscriptionId, attempt: row.attempts + 1, statusCode: result.statusCode, durationMs }
    if (disposition === 'delivered') log.debug(detail, 'webhook delivered')
    else log.warn({ ...detail, disposition, error: 'error' in result ? result.error : undefined, nextAttemptAt }, 'webhook not delivered')
  }

  async function deliver(row: OutboxRow, subscription: Subscription, renew: boolean): Promise<void> {
    try {
      // The first row's lease is fresh from the claim; later ones may have waited a timeout or more.
      if (renew && !(await renewLease(database.db, { id: row.id, now: now(), leaseMs: config.leaseMs, workerId }))) return
      await send(row, subscription)
    } catch (err) {
      // Left leased: the row comes back when the lease expires, and the pass goes on.
      log.error({ err, outboxId: row.id }, 'webhook dispatch failed')
    }
  }

  async function runOnce(): Promise<number> {
    // The subscriptions (few) are read alongside the claim rather than after it: on a busy gateway
    // each round trip waits a turn of the event loop, and a new ticket's webhook waits for both.
    const [claimed, enabled] = await Promise.all([
      claimDue(database.db, { now: now(), leaseMs: config.leaseMs, workerId, limit: batchSize }),
      selectEnabledSubscriptions(database.db, {}),
    ])
    if (claimed.length === 0) return 0
    const subscriptions = new Map(enabled.map((s) => [s.id, s]))
    const groups = new Map<string, OutboxRow[]>()
    for (const row of claimed) {
      // Its subscription was enabled between the two reads: the row stays leased and comes back
      // when the lease expires, like a row whose pass failed.
      if (!subscriptions.has(row.subscriptionId)) continue
      const group = groups.get(row.subscriptionId)
      if (group) group.push(row)
      else groups.set(row.subscriptionId, [row])
    }
    // The claim holds at most one message per ticket and subscription, so after a first message
    // shows the receiver is there (a 410 cancels the rest), the others go side by side: one after
    // another, a busy gateway managed only a few dozen a second to one CRM.
    // Each waits for one of its subscription's slots, which other passes share.
    const inTurn = (row: OutboxRow, renew: boolean) => slots.run(row.subscriptionId, () => deliver(row, subscriptions.get(row.subscriptionId)!, renew))
    await eachWithLimit([...groups.values()], concurrency, async ([first, ...rest]) => {
      await inTurn(first, false)
      await Promise.all(rest.map((row) => inTurn(row, true)))
    })
    return claimed.length
  }

  let running = false
  let timer: NodeJS.Timeout | undefined
  const passes = new Set<Promise<void>>()
  const handedOff = new Set<Promise<void>>()
  // A hand-off found messages not leased to this worker: some may wait behind one being handed off.
  let heldBehind = false
  let woken = false
  let stopped: Promise<void> | undefined

  function schedule(delayMs: number) {
    clearTimeout(timer)
    timer = setTimeout(pass, delayMs)
  }

  function pass(): void {
    clearTimeout(timer)
    timer = undefined
    woken = false
    let processed = 0
    const under = runOnce().then((n) => { processed = n }, (err) => { log.error({ err }, 'outbox pass failed') }).finally(() => {
      passes.delete(under)
      if (!running) return
      // A pass that found work may have left more due; a wake while every pass was busy means
      // something new is. Otherwise the last pass to finish sets the poll.
      if (processed > 0 || woken) pass()
      else if (passes.size === 0) schedule(config.pollMs)
    })
    passes.add(under)
  }

  function wake(): void {
    if (!running) return
    if (passes.size < maxPasses) pass()
    else woken = true
  }

  /**
   * Sends what a transaction queued leased to this worker (see `enqueueTicketEvent`), straight
   * after its commit, without the wake and the claim: on a busy gateway each is a turn of the
   * event loop the webhook waits for. Anything else it queued (unleased: it waits behind an earlier
   * message, or no dispatcher ran here) is left to a pass, woken now and again once the hand-offs
   * under way are sent, since it may be waiting behind one of them. A transaction that queued only
   * leased messages, or none, wakes no pass, nor does their sending: such passes claimed nothing
   * after nearly every new ticket, a round trip (two statements) wasted. A message another instance
   * queued behind one handed off here goes with the next poll.
   */
  function handOff(queued: QueuedMessages): void {
    // Stopping: what was leased waits out its lease and goes with a later pass, here or elsewhere.
    if (!running) return
    const mine = queued.rows.filter((r) => r.lockedBy === workerId)
    if (mine.length < queued.rows.length) {
      heldBehind = true
      wake()
    }
    if (mine.length === 0) return
    const handedAt = now()
    const subscriptions = new Map(queued.subscriptions.map((s) => [s.id, s]))
    const sending = Promise.all(mine.map((row) => slots.run(row.subscriptionId, () => {
      const subscription = subscriptions.get(row.subscriptionId)
      // Leased and not sent: the row comes back when its lease expires, as from a failed pass.
      if (!subscription) return Promise.resolve()
      // Waiting for a slot behind slow answers can outlast much of the lease.
      return deliver(row, subscription, now() - handedAt >= config.timeoutMs)
    }))).then(() => {
      handedOff.delete(sending)
      if (!heldBehind) return
      if (handedOff.size === 0) heldBehind = false
      wake()
    })
    handedOff.add(sending)
  }

  return {
    workerId,
    runOnce,
    /** The lease a transaction gives the messages it queues at `at` for `handOff`; none while stopped. */
    lease(at: Date): OutboxLease | undefined {
      return running ? { workerId, until: new Date(at.getTime() + config.leaseMs) } : undefined
    },
    handOff,
    start(): void {
      if (running) return
      running = true
      schedule(0)
    },
    wake,
    /** Stops polling, waits for the passes and hand-offs under way, and closes the HTTP connections. */
    stop(): Promise<void> {
      running = false
      clearTimeout(timer)
      stopped ??= (async () => {
        while (passes.size + handedOff.size > 0) await Promise.all([...passes, ...handedOff])
        await agent.close()
      })()
      return stopped
    },
  }
}

export type OutboxDispatcher = ReturnType<typeof createDispatcher>

/** Runs tasks at most `limit` at once per key; the others wait their turn. */
function createKeyedLimit(limit: number) {
  const keys = new Map<string, { active: number; waiting: (() => void)[] }>()
  return {
    async run<T>(key: string, task: () => Promise<T>): Promise<T> {
      let slot = keys.get(key)
      if (!slot) keys.set(key, (slot = { active: 0, waiting: [] }))
      // A finishing task hands its place straight to the next in line, so none can jump the queue.
      if (slot.active < limit) slot.active++
      else await new Promise<void>((resolve) => slot.waiting.push(resolve))
      try {
        return await task()
      } finally {
        const next = slot.waiting.shift()
        if (next) next()
        else if (--slot.active === 0) keys.delete(key)
      }
    },
  }
}

async function eachWithLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
