import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** One registry per gateway instance, so tests running several gateways don't share counters. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'precall_' })
  const registers = [registry]
  const heldReads: (() => number)[] = []
  const beforeScrape: (() => Promise<void>)[] = []
  return {
    registry,
    readingsAccepted: new Counter({ name: 'precall_readings_accepted_total', help: 'Readings, events and status messages durably stored', labelNames: ['kind'], registers }),
    readingsDuplicate: new Counter({ name: 'precall_readings_duplicate_total', help: 'Redelivered messages already stored (ignored)', registers }),
    readingsRejected: new Counter({ name: 'precall_readings_rejected_total', help: 'Messages refused by ingest, by reason', labelNames: ['reason'], registers }),
    readingsStoreFailed: new Counter({ name: 'precall_readings_store_failed_total', help: 'Messages not stored because their group commit failed (not acknowledged: sent again)', registers }),
    afterCommitErrors: new Counter({ name: 'precall_after_commit_errors_total', help: 'Committed batches whose rule evaluation (or other work after the commit) threw: logged; the readings stay stored and acknowledged, and ingest goes on', registers }),
    readingsExpired: new Counter({ name: 'precall_readings_expired_total', help: 'Readings deleted one by one for being past the retention window (those left in the default partition; whole days go with their partition)', registers }),
    readingsPartitionsAdded: new Counter({ name: 'precall_readings_partitions_added_total', help: 'Day partitions of readings created', registers }),
    readingsPartitionsDropped: new Counter({ name: 'precall_readings_partitions_dropped_total', help: 'Day partitions of readings dropped past the retention window', registers }),
    rollupsWritten: new Counter({ name: 'precall_rollups_written_total', help: 'Hourly rollup rows (a device, a metric, an hour) added to reading_rollups by the retention pass', registers }),
    retentionFailures: new Counter({ name: 'precall_retention_failures_total', help: 'Retention passes (partitions, rollups) that failed; the next pass tries again', registers }),
    readingsLate: new Counter({ name: 'precall_readings_late_total', help: 'Readings stored but too late in event time for rule evaluation', registers }),
    connectionsRefused: new Counter({ name: 'precall_mqtt_refused_total', help: 'MQTT connections, publishes and subscriptions refused, by reason', labelNames: ['reason'], registers }),
    mqttClients: new Gauge({ name: 'precall_mqtt_clients', help: 'Connected MQTT clients', registers }),
    brokerThreadRestarts: new Counter({ name: 'precall_broker_thread_restarts_total', help: 'Times the embedded broker\'s thread (MQTT_BROKER_THREAD) stopped without being closed and was started again on its port (its devices reconnect and send again what was not acknowledged)', registers }),
    ingestBatchSize: new Histogram({ name: 'precall_ingest_batch_size', help: 'Messages per group commit', buckets: [1, 5, 20, 100, 500, 2000], registers }),
    ingestQueued: new Gauge({ name: 'precall_ingest_queued', help: 'Readings waiting for a group commit to take them, as of the last commit', registers }),
    ingestHeldReads: new Gauge({
      name: 'precall_ingest_held_reads', help: 'Device connections waiting to be read until commits make room or the next turn (see precall_ingest_held_total)', registers,
      collect() { this.set(heldReads.reduce((sum, count) => sum + count(), 0)) },
    }),
    /** Adds a count of held device connections to precall_ingest_held_reads, read when scraped (an admission's, a broker thread's). */
    countHeldReads(count: () => number) {
      heldReads.push(count)
    },
    /** Runs before every scrape, named metrics or all: a broker thread has what it counted sent over first. */
    beforeScrape(hook: () => Promise<void>) {
      beforeScrape.push(hook)
    },
    /** Awaits every `beforeScrape` hook (the /metrics route). */
    async scraping() {
      await Promise.all(beforeScrape.map((hook) => hook()))
    },
    ingestHeld: new Counter({ name: 'precall_ingest_held_total', help: 'Times a device connection was not read at once: the gateway held as many unanswered readings as INGEST_MAX_PENDING allows (back-pressure), or a turn had spent INGEST_READ_BUDGET_MS reading (or others waited before it)', registers }),
    ingestCommitSeconds: new Histogram({ name: 'precall_ingest_commit_seconds', help: 'Group commit duration', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers }),
    detections: new Counter({ name: 'precall_detections_total', help: 'Rule detections, by mode (active, shadow)', labelNames: ['mode'], registers }),
    tickets: new Counter({ name: 'precall_tickets_total', help: 'Ticket changes, by action (opened, updated, reopened, repeat, escalated_N, status names)', labelNames: ['action'], registers }),
    contacts: new Counter({ name: 'precall_contacts_total', help: 'Customer contacts, by linkage (known_problem: a ticket was already open; new_complaint)', labelNames: ['linkage'], registers }),
    deliveries: new Counter({ name: 'precall_deliveries_total', help: 'Webhook delivery attempts, by outcome', labelNames: ['outcome'], registers }),
    httpRefused: new Counter({ name: 'precall_http_refused_total', help: 'HTTP requests refused, by error code', labelNames: ['code'], registers }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
