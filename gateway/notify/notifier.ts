import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { Database } from '../db/database.js'
import { randomSecret } from '../db/ids.js'
import type { Metrics } from '../metrics.js'
import { createSafeAgent } from '../outbox/safe-address.js'
import type { ChannelAdapter, MqttPublish } from './channels/channel.js'
import { createEmailChannel } from './channels/email-channel.js'
import { createMqttChannel } from './channels/mqtt-channel.js'
import { createProviderChannel } from './channels/provider-channel.js'
import { claimNotifications, type NotificationRow } from './claim-notifications.js'
import { createDelivery, type NotifyOutcome } from './deliver-notification.js'
import { PROVIDER_CHANNELS, type NotifyConfig } from './notify-config.js'
import { createNotificationStore } from './notification-store.js'
import { createPreferenceStore } from './preference-store.js'
import { createTemplateStore } from './template-store.js'

export type NotifierOptions = {
  database: Database
  config: NotifyConfig
  log: Logger
  /** Adds `precall_notifications_total` to the gateway's registry. */
  metrics?: Pick<Metrics, 'registry'>
  now?: () => number
  random?: () => number
  workerId?: string
  /** The embedded broker's publish, or the external MQTT client's. */
  publishMqtt?: MqttPublish
  /** Messages claimed by one `runOnce`. */
  batchSize?: number
  /** Messages sent at once; each customer's go one after another, customers side by side. */
  concurrency?: number
}

/**
 * Customer notifications: the stores the API uses (templates, preferences, messages) and the
 * worker that sends. `runOnce` is one pass (tests drive it on their own clock); `start` keeps up to
 * `concurrency` messages in flight, polling for due ones, and `wake` skips the wait.
 */
export function createNotifier(opts: NotifierOptions) {
  const { database, config, log } = opts
  const now = opts.now ?? Date.now
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomSecret(4)}`
  const batchSize = opts.batchSize ?? 32
  const concurrency = opts.concurrency ?? 8
  const outcomes = opts.metrics && notificationCounter(opts.metrics.registry)
  if (config.leaseMs <= config.timeoutMs) log.warn({ leaseMs: config.leaseMs, timeoutMs: config.timeoutMs }, 'notify lease shorter than channel timeout: slow providers may get duplicates')

  const templates = createTemplateStore(database, { now })
  const preferences = createPreferenceStore(database, { defaults: config, tagPolicy: config.tagPolicy, now })
  const messages = createNotificationStore(database, { now })

  const agent = createSafeAgent({ allowPrivate: config.allowPrivateAddresses, connectTimeoutMs: config.timeoutMs })
  const adapters: Partial<Record<string, ChannelAdapter>> = {}
  if (config.smtpUrl) adapters.email = createEmailChannel({ smtpUrl: config.smtpUrl, from: config.emailFrom, timeoutMs: config.timeoutMs })
  for (const channel of PROVIDER_CHANNELS) {
    const provider = config.providers[channel]
    if (!provider) continue
    const callbackUrl = config.publicUrl ? `${config.publicUrl.replace(/\/$/, '')}/api/v1/notify/providers/${channel}/status` : null
    adapters[channel] = createProviderChannel({ channel, provider, agent, timeoutMs: config.timeoutMs, callbackUrl, now })
  }
  if (opts.publishMqtt) adapters.mqtt = createMqttChannel({ publish: opts.publishMqtt, deviceNotice: config.deviceNotice, now })

  const delivery = createDelivery({ database, config, adapters, templates, preferences, workerId, now, random: opts.random ?? Math.random })

  async function sendOne(row: NotificationRow): Promise<void> {
    let outcome: NotifyOutcome
    try {
      outcome = await delivery.process(row)
    } catch (err) {
      // Left leased: the message comes back when the lease expires, and the others go on.
      log.error({ err, notificationId: row.id }, 'notification failed')
      return
    }
    outcomes?.inc({ outcome })
    const detail = { notificationId: row.id, messageId: row.messageId, customerId: row.customerId, ticketId: row.ticketId, kind: row.kind, outcome }
    if (outcome === 'failed' || outcome === 'retry' || outcome === 'lost_lease') log.warn(detail, 'customer notification not sent')
    else log.debug(detail, 'customer notification')
  }

  /** One pass: claims a batch and works through it; tests drive it on their own clock. */
  async function runOnce(): Promise<number> {
    const claimed = await claimNotifications(database.db, { now: now(), leaseMs: config.leaseMs, workerId, limit: batchSize })
    let next = 0
    const worker = async () => {
      while (next < claimed.length) await sendOne(claimed[next++])
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, worker))
    return claimed.length
  }

  // Running, messages are claimed as slots free up rather than in passes: a provider that hangs
  // until its timeout holds one slot, not every other customer's message behind it.
  let running = false
  let timer: NodeJS.Timeout | undefined
  let pumping: Promise<void> | undefined
  let again = false
  const inFlight = new Set<Promise<void>>()
  let stopped: Promise<void> | undefined

  function schedule(delayMs: number) {
    clearTimeout(timer)
    timer = setTimeout(() => void pump(), delayMs)
  }

  async function pump(): Promise<void> {
    if (!running) return
    if (pumping) { again = true; return }
    pumping = (async () => {
      do {
        again = false
        while (running && inFlight.size < concurrency) {
          const claimed = await claimNotifications(database.db, { now: now(), leaseMs: config.leaseMs, workerId, limit: concurrency - inFlight.size })
          if (claimed.length === 0) break
          for (const row of claimed) {
            const sending = sendOne(row).finally(() => {
              inFlight.delete(sending)
              void pump()
            })
            inFlight.add(sending)
          }
        }
      } while (again && running)
    })().catch((err) => { log.error({ err }, 'notification claim failed') })
    await pumping
    pumping = undefined
    if (running) schedule(config.pollMs)
  }

  return {
    workerId,
    templates,
    preferences,
    messages,
    /** The channel types this gateway can send on (others are recorded as unavailable). */
    channels: Object.keys(adapters),
    providers: config.providers,
    runOnce,
    start(): void {
      if (running) return
      running = true
      schedule(0)
    },
    /** A ticket change has just queued a message: look now rather than at the next poll. */
    wake(): void {
      void pump()
    },
    /** Stops claiming, waits for the messages under way, and closes the channels' connections. */
    stop(): Promise<void> {
      running = false
      clearTimeout(timer)
      stopped ??= (async () => {
        await pumping
        await Promise.all(inFlight)
        await Promise.all(Object.values(adapters).map((a) => a!.close()))
        await agent.close()
      })()
      return stopped
    },
  }
}

export type Notifier = ReturnType<typeof createNotifier>

const COUNTER = 'precall_notifications_total'

// Several notifiers may share a registry (workers in one process): they share the counter too.
function notificationCounter(registry: Registry): Counter<'outcome'> {
  const existing = registry.getSingleMetric(COUNTER)
  if (existing) return existing as Counter<'outcome'>
  return new Counter({
    name: COUNTER, help: 'Customer notification passes, by outcome (sent, deferred, digested, suppressed, retry, failed, lost_lease)',
    labelNames: ['outcome'], registers: [registry],
  })
}
