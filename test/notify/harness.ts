import { eq } from 'drizzle-orm'
import { pino } from 'pino'
import type { Database } from '../../gateway/db/database.js'
import { newId } from '../../gateway/db/ids.js'
import { customers, deviceTypes, devices, tickets, type Channel } from '../../gateway/db/schema.js'
import { notifications } from '../../gateway/db/notify-schema.js'
import { createMetrics } from '../../gateway/metrics.js'
import type { WebhookEvent } from '../../gateway/outbox/subscription-store.js'
import type { MqttPublish } from '../../gateway/notify/channels/channel.js'
import { DEFAULT_NOTIFY_CONFIG, type NotifyConfig } from '../../gateway/notify/notify-config.js'
import { enqueueCustomerNotification } from '../../gateway/notify/notification-outbox.js'
import { createNotifier, type Notifier } from '../../gateway/notify/notifier.js'

type TicketRow = typeof tickets.$inferSelect

export const HOUR = 3_600_000
export const DAY = 24 * HOUR

/** A provider's answer script: `n` successes carrying provider ids `<prefix>-0`, `<prefix>-1`, … */
export const okWithIds = (prefix: string, n = 50) => Array.from({ length: n }, (_, i) => ({ status: 200, body: JSON.stringify({ id: `${prefix}-${i}` }) }))

let seq = 0
const unique = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 6)}`

/**
 * Customers, devices and tickets written straight to a test database, and notifiers on one virtual
 * clock. A ticket change goes through `enqueueCustomerNotification` in the ticket's transaction,
 * as `ticketTransaction` does.
 */
export function createNotifyHarness(database: Database, opts: { start: number; config?: Partial<NotifyConfig> }) {
  let t = opts.start
  const now = () => t
  const published: { topic: string; payload: string; qos: number; retain: boolean }[] = []
  const publishMqtt: MqttPublish = async (topic, payload, o) => { published.push({ topic, payload: payload.toString(), ...o }) }
  const notifiers: Notifier[] = []
  const metrics = createMetrics()

  async function change(ticket: TicketRow, set: Partial<TicketRow>, event: WebhookEvent | null, action: string): Promise<TicketRow> {
    return database.db.transaction(async (tx) => {
      const [row] = await tx.update(tickets).set({ ...set, version: ticket.version + 1, updatedAt: new Date(t) }).where(eq(tickets.id, ticket.id)).returning()
      await enqueueCustomerNotification(tx, { ticket: row, event, action, fromStatus: ticket.status, at: new Date(t) })
      return row
    })
  }

  return {
    now,
    metrics,
    published,
    publishMqtt,
    set(ms: number) { t = ms },
    advance(ms: number) { t += ms },

    notifier(config: Partial<NotifyConfig> = {}, workerId?: string) {
      const n = createNotifier({
        database, log: pino({ level: 'silent' }), metrics, now, random: () => 0.5, workerId, publishMqtt,
        config: { ...DEFAULT_NOTIFY_CONFIG, allowPrivateAddresses: true, timeoutMs: 1_000, leaseMs: 30_000, retryScheduleMs: [10_000], ...opts.config, ...config },
      })
      notifiers.push(n)
      return n
    },

    /** A customer with one washer; returns both ids. */
    async customer(input: { channels: Channel[]; locale?: string; timezone?: string; tags?: string[]; name?: string }) {
      const id = unique('c')
      const deviceId = unique('wm')
      await database.db.insert(deviceTypes).values({ id: 'washer', name: 'Washing machine', metrics: { drain_time_s: { unit: 's' } } }).onConflictDoNothing()
      await database.db.insert(customers).values({ id, name: input.name ?? 'Li Wei', locale: input.locale ?? 'en', timezone: input.timezone ?? 'Asia/Shanghai', tags: input.tags ?? [], channels: input.channels })
      await database.db.insert(devices).values({ id: deviceId, typeId: 'washer', customerId: id, model: 'WM-8', secretHash: 'x' })
      return { customerId: id, deviceId }
    },

    /** Opens a ticket for a detection and queues the customer's message in the same transaction. */
    async openTicket(c: { customerId: string; deviceId: string }, input: { severity?: string; notifyCustomer?: boolean; problem?: string; title?: string } = {}): Promise<TicketRow> {
      const at = new Date(t)
      return database.db.transaction(async (tx) => {
        const [row] = await tx.insert(tickets).values({
          id: newId('tkt', t), deviceId: c.deviceId, customerId: c.customerId, problem: input.problem ?? unique('drain-pump'), type: 'service',
          title: input.title ?? 'Drain pump clogging', severity: input.severity ?? 'major', priority: 2, openedAt: at, detectedAt: new Date(t - 60_000),
          slaDueAt: new Date(t + 5 * DAY), slaMs: 5 * DAY, lastDetectedAt: at, evidence: {}, notifyCustomer: input.notifyCustomer ?? true, updatedAt: at,
        }).returning()
        await enqueueCustomerNotification(tx, { ticket: row, event: 'ticket.opened', action: 'opened', fromStatus: null, at })
        return row
      })
    },

    change,

    async messagesOf(customerId: string) {
      return database.db.select().from(notifications).where(eq(notifications.customerId, customerId)).orderBy(notifications.id)
    },

    async close() {
      await Promise.all(notifiers.map((n) => n.stop()))
    },
  }
}

export type NotifyHarness = ReturnType<typeof createNotifyHarness>
