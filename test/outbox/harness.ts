import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { openTestDatabase, type Backend } from '../support/databases.js'
import { startReceiver, type Receiver } from './receiver.js'
import { pino } from 'pino'
import type { Config } from '../../gateway/config/load-config.js'
import type { Database } from '../../gateway/db/database.js'
import { createMetrics } from '../../gateway/metrics.js'
import { createDispatcher, type DispatcherOptions } from '../../gateway/outbox/dispatcher.js'
import { createOutboxStore, enqueueTicketEvent } from '../../gateway/outbox/outbox-store.js'
import { createSubscriptionStore, type WebhookEvent } from '../../gateway/outbox/subscription-store.js'

export const OUTBOX_CONFIG: Config['outbox'] = {
  timeoutMs: 200,
  retryScheduleMs: [10_000, 20_000, 40_000],
  allowPrivateAddresses: true,
  leaseMs: 30_000,
  pollMs: 50,
}

/**
 * Stores and dispatchers over one test database, all on one virtual clock that starts at the real
 * time (receivers verify `webhook-timestamp` against their own clock) and moves only when told.
 */
export function createHarness(database: Database) {
  let t = Date.now()
  const now = () => t
  const subscriptions = createSubscriptionStore(database, { allowPrivateAddresses: true, now })
  const outbox = createOutboxStore(database, { now })
  const metrics = createMetrics()
  const dispatchers: ReturnType<typeof createDispatcher>[] = []
  return {
    now,
    advance(ms: number) { t += ms },
    subscriptions,
    outbox,
    metrics,
    dispatcher(config: Partial<Config['outbox']> = {}, workerId?: string, options: Pick<DispatcherOptions, 'perSubscription' | 'passes'> = {}) {
      // random 0.5 puts the jitter at zero, so delays are exactly the schedule's.
      const d = createDispatcher({
        database, config: { ...OUTBOX_CONFIG, ...config }, log: pino({ level: 'silent' }), metrics, now, random: () => 0.5, workerId, ...options,
      })
      dispatchers.push(d)
      return d
    },
    enqueue(ticketId: string, type: WebhookEvent = 'ticket.opened') {
      return database.db.transaction((tx) => enqueueTicketEvent(tx, { type, ticket: { id: ticketId, title: `ticket ${ticketId}` } }, new Date(t))).then((q) => q.rows.length)
    },
    async deliveryCount(outcome: string) {
      return (await metrics.deliveries.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0
    },
    async deliveriesOf(ticketId: string) {
      return (await outbox.listDeliveries({ ticketId, limit: 100 })).reverse()
    },
    /** Disables what the test created (cancelling its pending rows), so the next test starts clean. */
    async close() {
      await Promise.all(dispatchers.map((d) => d.stop()))
      for (const s of await subscriptions.list()) if (s.enabled) await subscriptions.remove(s.id)
    },
  }
}

export type Harness = ReturnType<typeof createHarness>

/**
 * The test bed the dispatcher tests share: one database per file, and per test a fresh harness and
 * a real receiver, closed after it. Read `bed.h` and `bed.receiver` inside a test.
 */
export function useDispatchTestBed(backend: Backend) {
  const bed = {} as { database: Database; h: Harness; receiver: Receiver }
  beforeAll(async () => { bed.database = await openTestDatabase(backend) })
  afterAll(async () => { await bed.database.close() })
  beforeEach(async () => {
    bed.h = createHarness(bed.database)
    bed.receiver = await startReceiver()
  })
  afterEach(async () => {
    await bed.h.close()
    await bed.receiver.close()
  })
  return bed
}
