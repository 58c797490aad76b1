import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { inArray } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Dispatcher as HttpDispatcher } from 'undici'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import { randomSecret } from '../db/ids.js'
import { webhookSubscriptions } from '../db/schema.js'
import type { Metrics } from '../metrics.js'
import { claimDue, renewLease } from './claim-due.js'
import { deliverWebhook } from './deliver-webhook.js'
import type { OutboxRow } from './outbox-store.js'
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
  /** Messages sent at once to one subscription (never two of one ticket). */
  perSubscription?: number
}

/**
 * Delivers the outbox: claim due rows with a lease, sign, POST, record, repeat. `runOnce` is one
 * pass (tests drive it with their own clock); `start` polls, and `wake` skips the wait when a
 * transaction has just queued something.
 */
export function createDispatcher(opts: DispatcherOptions) {
  const { database, config, log, metrics } = opts
  const now = opts.now ?? Date.now
  const random = opts.random ?? Math.random
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomSecret(4)}`
  const batchSize = opts.batchSize ?? 32
  const concurrency = opts.concurrency ?? 8
  const perSubscription = opts.perSubscription ?? 8
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

  async function runOnce(): Promise<number> {
    const claimed = await claimDue(database.db, { now: now(), leaseMs: config.leaseMs, workerId, limit: batchSize })
    if (claimed.length === 0) return 0
    const ids = [...new Set(claimed.map((r) => r.subscriptionId))]
    const subscriptions = new Map((await database.db.select().from(webhookSubscriptions).where(inArray(webhookSubscriptions.id, ids))).map((s) => [s.id, s]))
    const groups = new Map<string, OutboxRow[]>()
    for (const row of claimed) groups.set(row.subscriptionId, [...(groups.get(row.subscriptionId) ?? []), row])
    const deliver = async (row: OutboxRow, renew: boolean) => {
      try {
        // The first row's lease is fresh from the claim; later ones may have waited a timeout or more.
        if (renew && !(await renewLease(database.db, { id: row.id, now: now(), leaseMs: config.leaseMs, workerId }))) return
        await send(row, subscriptions.get(row.subscriptionId)!)
      } catch (err) {
        // Left leased: the row comes back when the lease expires, and the pass goes on.
        log.error({ err, outboxId: row.id }, 'webhook dispatch failed')
      }
    }
    // The claim holds at most one message per ticket and subscription, so after a first message
    // shows the receiver is there (a 410 cancels the rest), the others go side by side: one after
    // another, a busy gateway managed only a few dozen a second to one CRM.
    await eachWithLimit([...groups.values()], concurrency, async ([first, ...rest]) => {
      await deliver(first, false)
      await eachWithLimit(rest, perSubscription, (row) => deliver(row, true))
    })
    return claimed.length
  }

  let running = false
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> | undefined
  let woken = false
  let stopped: Promise<void> | undefined

  function schedule(delayMs: number) {
    clearTimeout(timer)
    timer = setTimeout(() => void tick(), delayMs)
  }

  async function tick(): Promise<void> {
    timer = undefined
    woken = false
    let processed = 0
    inFlight = runOnce().then((n) => { processed = n }, (err) => { log.error({ err }, 'outbox pass failed') })
    await inFlight
    inFlight = undefined
    // A pass that found work may have left more due; a wake during the pass means something new is.
    if (running) schedule(processed > 0 || woken ? 0 : config.pollMs)
  }

  return {
    workerId,
    runOnce,
    start(): void {
      if (running) return
      running = true
      schedule(0)
    },
    wake(): void {
      if (!running) return
      if (inFlight) woken = true
      else schedule(0)
    },
    /** Stops polling, waits for the pass under way, and closes the HTTP connections. */
    stop(): Promise<void> {
      running = false
      clearTimeout(timer)
      stopped ??= (async () => {
        await inFlight
        await agent.close()
      })()
      return stopped
    },
  }
}

export type OutboxDispatcher = ReturnType<typeof createDispatcher>

async function eachWithLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
