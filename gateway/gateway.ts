import type { Worker } from 'node:worker_threads'
import pino, { type Logger } from 'pino'
import type { Config } from './config/load-config.js'
import { openDatabase } from './db/database.js'
import { createBacktester } from './detect/backtest.js'
import { createDetectionLog } from './detect/detection-log.js'
import { createRuleRunner } from './detect/rule-runner.js'
import { createRuleStore } from './detect/rule-store.js'
import { createDeviceDirectory } from './fleet/device-directory.js'
import { createFleetStore } from './fleet/fleet-store.js'
import { createHttpServer } from './http/http-server.js'
import { deliveryRoutes } from './http/routes/delivery-routes.js'
import { fleetRoutes } from './http/routes/fleet-routes.js'
import { healthRoutes } from './http/routes/health-routes.js'
import { insightRoutes } from './http/routes/insight-routes.js'
import { notifyRoutes } from './http/routes/notify-routes.js'
import { rejectionRoutes } from './http/routes/rejection-routes.js'
import { ruleRoutes } from './http/routes/rule-routes.js'
import { ticketRoutes } from './http/routes/ticket-routes.js'
import { tokenRoutes } from './http/routes/token-routes.js'
import { webhookRoutes } from './http/routes/webhook-routes.js'
import { createTokenStore } from './http/token-store.js'
import { createIngest } from './ingest/ingest.js'
import { startBrokerThread } from './ingest/broker-thread.js'
import { startMqttBroker, type MqttBroker } from './ingest/mqtt-broker.js'
import { createMqttLogins } from './ingest/mqtt-logins.js'
import { startMqttSubscriber } from './ingest/mqtt-subscriber.js'
import { createReadingWriter } from './ingest/reading-writer.js'
import { registerKpiGauges } from './insight/kpi-gauges.js'
import { createMetrics } from './metrics.js'
import type { MqttPublish } from './notify/channels/channel.js'
import { createNotifier } from './notify/notifier.js'
import { createDispatcher } from './outbox/dispatcher.js'
import { createOutboxStore } from './outbox/outbox-store.js'
import { createSubscriptionStore } from './outbox/subscription-store.js'
import { createRetention } from './retention/retention.js'
import { createContactIntake } from './tickets/contact-intake.js'
import { createDetectionIntake } from './tickets/detection-intake.js'
import { createTicketScheduler } from './tickets/ticket-scheduler.js'
import { createTicketUpdater } from './tickets/ticket-update.js'
import type { Queued } from './tickets/ticket-change.js'
import { createTicketStore } from './tickets/ticket-store.js'

export type GatewayOptions = {
  log?: Logger
  now?: () => number
  /** Subscription used with an external broker (MQTT_URL); tests isolate themselves with their own share group. */
  mqttTopic?: string
  /** Called with each embedded broker thread started (MQTT_BROKER_THREAD): tests stop one to see it started again. */
  onBrokerThread?: (worker: Worker) => void
}

/**
 * Wires the data path in order — db, fleet, ingest, rules, tickets, outbox, http — and returns a
 * gateway that is ready but not yet listening. Only `listen` opens ports.
 */
export async function buildGateway(config: Config, options: GatewayOptions = {}) {
  const log = options.log ?? pino({ level: config.logLevel })
  const now = options.now ?? Date.now
  const metrics = createMetrics()

  const database = await openDatabase({ url: config.db.url, dataDir: config.db.dataDir, poolSize: config.db.poolMax })
  log.info({ database: database.kind, dataDir: database.kind === 'pglite' ? config.db.dataDir : undefined }, 'database migrated')

  const directory = createDeviceDirectory(database)
  const fleet = createFleetStore(database, directory)
  const tokens = createTokenStore(database)
  const { generated } = await tokens.ensureAdminToken(config.auth.adminToken)

  const subscriptions = createSubscriptionStore(database, { allowPrivateAddresses: config.outbox.allowPrivateAddresses, now })
  const outboxStore = createOutboxStore(database, { now })
  const dispatcher = createDispatcher({ database, config: config.outbox, log: log.child({ component: 'dispatcher' }), metrics, now })
  // Customer messages over MQTT go through whichever broker `listen` connects.
  let publishMqtt: MqttPublish = async () => { throw new Error('MQTT is not connected yet') }
  const notifier = createNotifier({ database, config: config.notify, log: log.child({ component: 'notifier' }), metrics, now, publishMqtt: (topic, payload, o) => publishMqtt(topic, payload, o) })

  const ticketStore = createTicketStore(database)
  // A ticket change's webhooks go to this gateway's dispatcher as they commit (see OutboxLink).
  const ticketDeps = {
    database, metrics, policy: config.tickets, now,
    outboxLease: (at: Date) => dispatcher.lease(at),
    onOutbox: (queued: Queued) => {
      dispatcher.handOff(queued)
      if (queued.notifications > 0) notifier.wake()
    },
  }
  const intake = createDetectionIntake(ticketDeps)
  const updater = createTicketUpdater({ ...ticketDeps, onRepaired: (deviceId, problem) => runner.repaired(deviceId, problem) })
  const contacts = createContactIntake(ticketDeps)
  const scheduler = createTicketScheduler({ ...ticketDeps, log: log.child({ component: 'scheduler' }) })
  const retention = createRetention({ database, metrics, policy: config.retention, log: log.child({ component: 'retention' }), now })
  // Before any reading arrives: today's partition and the days around it.
  await retention.prepare()
  const ruleStore = createRuleStore(database)
  const runner = createRuleRunner({ database, directory, ruleStore, intake, metrics, log: log.child({ component: 'rules' }), config: config.rules, now })

  // Flushes in flight, each on a connection of ingest's own lane.
  const flushes = database.kind === 'postgres' ? 4 : 1
  const writer = createReadingWriter({
    database: database.lane(flushes, 'ingest'), metrics, maxBatch: config.ingest.batchMax,
    concurrency: flushes,
    lingerMs: config.ingest.lingerMs,
    maxPending: config.ingest.maxPending,
    readBudgetMs: config.ingest.readBudgetMs,
    onCommitted(batch) {
      runner.onCommitted(batch)
      retention.count(batch)
      for (const r of batch) {
        if (r.kind === 'status' && r.state) {
          fleet.setDeviceStatus(r.deviceId, r.state, new Date(r.ts)).catch((err) => log.warn({ err }, 'could not update device status'))
        }
      }
    },
    onCommittedError: (err) => log.error({ err }, 'rule evaluation failed on a committed batch: its readings are stored, ingest goes on'),
  })
  const ingest = createIngest({ directory, writer, metrics, log: log.child({ component: 'ingest' }), maxFutureMs: config.ingest.maxFutureMs, maxAgeMs: config.ingest.maxAgeMs, now })

  await runner.start()

  registerKpiGauges(metrics.registry, database, now)

  let ready = false
  // Started by listen(): the embedded broker, or the subscriber to an external one.
  let broker: MqttBroker | undefined
  let subscriber: Awaited<ReturnType<typeof startMqttSubscriber>> | undefined
  const http = await createHttpServer({ log, metrics, tokens })
  await http.register(healthRoutes, { database, metrics, isReady: () => ready, brokerConnected: () => subscriber?.client.connected ?? broker?.running ?? true })
  await http.register(async (api) => {
    await api.register(fleetRoutes, { fleet })
    await api.register(ruleRoutes, { rules: ruleStore, detections: createDetectionLog(database), backtester: createBacktester(database, ruleStore), onChange: runner.reload })
    await api.register(ticketRoutes, { tickets: ticketStore, updater, contacts })
    await api.register(webhookRoutes, { subscriptions })
    await api.register(deliveryRoutes, { outbox: outboxStore, onReplay: () => dispatcher.wake() })
    await api.register(rejectionRoutes, { database })
    await api.register(insightRoutes, { database, policy: config.tickets, now })
    await api.register(notifyRoutes, { notifier, database, now })
    await api.register(tokenRoutes, { tokens })
  }, { prefix: '/api/v1' })
  await http.ready()

  return {
    config,
    log,
    metrics,
    database,
    http,
    /** Shown once in the start-up log when no ADMIN_TOKEN was configured and none existed. */
    generatedAdminToken: generated,
    /** For tests and tools: wait until everything received so far is stored, evaluated and ticketed. */
    async settle() {
      await writer.idle()
      await runner.idle()
    },
    dispatcher,
    notifier,
    scheduler,
    retention,

    async listen(): Promise<{ httpPort: number; mqttPort: number | null }> {
      if (config.mqtt.url) {
        const { url, clientId, receiveMaximum, sessionExpirySeconds } = config.mqtt
        subscriber = await startMqttSubscriber({ url, clientId, receiveMaximum, sessionExpirySeconds, topic: options.mqttTopic, ingest, log: log.child({ component: 'mqtt' }) })
      } else {
        const brokerOptions = {
          host: config.http.host, port: config.mqtt.port, maxPacketBytes: config.mqtt.maxPacketBytes,
          logins: createMqttLogins({ directory, tokens }), ingest, metrics, log: log.child({ component: 'mqtt' }),
        }
        broker = config.mqtt.brokerThread
          ? await startBrokerThread({ ...brokerOptions, maxPending: config.ingest.maxPending, readBudgetMs: config.ingest.readBudgetMs, onThread: options.onBrokerThread })
          : await startMqttBroker(brokerOptions)
      }
      publishMqtt = broker
        ? broker.publish
        : async (topic, payload, o) => { await subscriber!.client.publishAsync(topic, payload, { qos: o.qos, retain: o.retain }) }
      await http.listen({ host: config.http.host, port: config.http.port })
      const address = http.server.address()
      const httpPort = typeof address === 'object' && address ? address.port : config.http.port
      dispatcher.start()
      notifier.start()
      scheduler.start()
      retention.start()
      runner.startClock()
      ready = true
      return { httpPort, mqttPort: broker?.port ?? null }
    },

    async close() {
      ready = false
      runner.stopClock()
      await subscriber?.close()
      await broker?.close()
      await writer.idle()
      await runner.idle()
      await scheduler.stop()
      await retention.stop()
      await retention.flushRollups().catch((err: unknown) => log.error({ err }, 'could not write the last rollups'))
      await dispatcher.stop()
      await notifier.stop()
      await http.close()
      await database.close()
    },
  }
}

export type Gateway = Awaited<ReturnType<typeof buildGateway>>
