import { sql } from 'drizzle-orm'
import {
  bigint, bigserial, boolean, customType, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex,
} from 'drizzle-orm/pg-core'

const createdAt = () => timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow()
const at = () => timestamp({ withTimezone: true, mode: 'date' })

/**
 * A reading's event time: a timestamptz in the database, epoch ms in the gateway, as rules read it
 * (`Observation.ts`) and as the writer sends it. One representation from decode to the engine,
 * whether a reading was just committed or is read back for a replay or a backtest. postgres.js
 * hands timestamps to drizzle as text, PGlite as Dates.
 */
const eventTime = customType<{ data: number; driverData: string | Date }>({
  dataType: () => 'timestamp with time zone',
  toDriver: (ms) => new Date(ms).toISOString(),
  fromDriver: (value) => (value instanceof Date ? value.getTime() : new Date(value).getTime()),
})

export type MetricSpec = { unit?: string; min?: number; max?: number; description?: string }
export type Channel = { type: string; address: string; consent: boolean }

export const deviceTypes = pgTable('device_types', {
  id: text().primaryKey(),
  name: text().notNull(),
  metrics: jsonb().$type<Record<string, MetricSpec>>().notNull(),
  eventCodes: jsonb().$type<string[]>().notNull().default([]),
  // Events that mean the appliance was serviced: rule state restarts from after them.
  maintenanceCodes: jsonb().$type<string[]>().notNull().default([]),
  createdAt: createdAt(),
  updatedAt: createdAt(),
})

export const customers = pgTable('customers', {
  id: text().primaryKey(),
  name: text().notNull(),
  locale: text().notNull().default('en'),
  timezone: text().notNull().default('UTC'),
  tags: jsonb().$type<string[]>().notNull().default([]),
  channels: jsonb().$type<Channel[]>().notNull().default([]),
  createdAt: createdAt(),
  updatedAt: createdAt(),
})

export const devices = pgTable('devices', {
  id: text().primaryKey(),
  typeId: text().notNull().references(() => deviceTypes.id),
  customerId: text().references(() => customers.id),
  model: text(),
  serial: text(),
  firmware: text(),
  secretHash: text().notNull(),
  status: text(),
  statusAt: at(),
  createdAt: createdAt(),
}, (t) => [index().on(t.customerId), uniqueIndex().on(t.serial)])

export const apiTokens = pgTable('api_tokens', {
  id: text().primaryKey(),
  name: text().notNull(),
  role: text().notNull(),
  tokenHash: text().notNull().unique(),
  createdAt: createdAt(),
  revokedAt: at(),
  lastUsedAt: at(),
})

// One row per telemetry message, event or status change. `dedupKey` is the device's seq when it
// sends one, else a hash of the payload, so an MQTT redelivery of the same message is a no-op.
//
// Partitioned by day of event time (migration 0007; `gateway/retention` keeps the partitions), so
// readings past the retention window go as whole tables, not row by row. PostgreSQL requires the
// partition key in every unique index: by event time the dedup index stays one index over all
// partitions, where partitions by arrival would have let a redelivery that crossed midnight in.
// What no day partition covers lands in `readings_default` until a partition takes it.
export const readings = pgTable('readings', {
  id: bigserial({ mode: 'number' }).notNull(),
  deviceId: text().notNull(),
  kind: text().notNull(),
  ts: eventTime().notNull(),
  seq: bigint({ mode: 'number' }),
  dedupKey: text().notNull(),
  metrics: jsonb().$type<Record<string, number>>(),
  state: text(),
  code: text(),
  detail: jsonb(),
  receivedAt: createdAt(),
}, (t) => [
  // One index both dedups and serves "a device's readings by event time" (its prefix): the
  // readings' natural key. Dropping the separate (device_id, ts) index took PostgreSQL 21.2 → 17.6
  // µs a row, and dropping the primary key on (id, ts) (migration 0008; ids come from their
  // sequence, and nothing looks a reading up by id) 16.6 → 13.6 µs in one run and 12.6 → 11.2 in
  // another, and 423 → 347 B of WAL (npm run bench:insert).
  uniqueIndex('readings_device_ts_dedup').on(t.deviceId, t.ts, t.kind, t.dedupKey),
  // Rows arrive in received_at order, so a block range index serves "received since" (the rule
  // tail replay) from a few pages per range, and a stored row hardly touches it.
  index('readings_received').using('brin', t.receivedAt),
])

// Hourly figures of each telemetry metric a device reported, kept long after its raw readings are
// dropped (for trends, baselines and long backtests). Counted by the gateway as readings commit
// (gateway/retention/rollup-counter.ts) and added here: sums and counts add, min and max widen, so
// a reading that comes late is added to its hour when it arrives.
export const readingRollups = pgTable('reading_rollups', {
  deviceId: text().notNull(),
  metric: text().notNull(),
  hour: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  count: integer().notNull(),
  min: doublePrecision().notNull(),
  max: doublePrecision().notNull(),
  sum: doublePrecision().notNull(),
  sumSq: doublePrecision().notNull(),
}, (t) => [primaryKey({ columns: [t.deviceId, t.metric, t.hour] }), index().on(t.hour)])

// Messages refused by ingest, kept (truncated) so nothing bad input carried is silently lost.
export const rejections = pgTable('rejections', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  deviceId: text(),
  topic: text().notNull(),
  reason: text().notNull(),
  detail: text().notNull(),
  payload: text(),
  receivedAt: createdAt(),
}, (t) => [index().on(t.receivedAt)])

export const rules = pgTable('rules', {
  id: text().primaryKey(),
  activeVersion: integer(),
  // A candidate version running beside the active one on the same live data, opening nothing.
  shadowVersion: integer(),
  // What a rollback returns to: the version that was active before the current one.
  previousVersion: integer(),
  createdAt: createdAt(),
  updatedAt: createdAt(),
})

export const ruleVersions = pgTable('rule_versions', {
  ruleId: text().notNull().references(() => rules.id),
  version: integer().notNull(),
  document: jsonb().$type<Record<string, unknown>>().notNull(),
  createdBy: text(),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.ruleId, t.version] })])

export const detections = pgTable('detections', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  ruleId: text().notNull(),
  ruleVersion: integer().notNull(),
  mode: text().notNull(),
  deviceId: text().notNull(),
  problem: text().notNull(),
  detectedAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  evidence: jsonb().notNull(),
  ticketId: text(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('detections_once').on(t.ruleId, t.ruleVersion, t.deviceId, t.detectedAt),
  index().on(t.ticketId),
  index().on(t.ruleId, t.createdAt),
])

export const OPEN_TICKET = sql`status not in ('resolved', 'closed')`

export const TICKET_STATUSES = ['open', 'acknowledged', 'dispatched', 'resolved', 'closed', 'reopened'] as const

export const tickets = pgTable('tickets', {
  id: text().primaryKey(),
  // Null only for a complaint about a customer whose device is not known.
  deviceId: text().references(() => devices.id),
  customerId: text(),
  problem: text().notNull(),
  type: text().notNull(),
  title: text().notNull(),
  source: text().notNull().default('detection'),
  status: text().notNull().default('open'),
  severity: text().notNull(),
  priority: integer().notNull(),
  openedAt: createdAt(),
  detectedAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  slaDueAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  slaMs: bigint({ mode: 'number' }).notNull().default(0),
  slaPausedAt: at(),
  slaPausedMs: bigint({ mode: 'number' }).notNull().default(0),
  nextEscalationAt: at(),
  occurrences: integer().notNull().default(1),
  lastDetectedAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  ruleId: text(),
  ruleVersion: integer(),
  evidence: jsonb().notNull(),
  predictedFailureAt: at(),
  repeatOf: text(),
  escalationLevel: integer().notNull().default(0),
  externalId: text(),
  technician: text(),
  appointmentAt: at(),
  outcome: text(),
  notifyCustomer: boolean().notNull().default(false),
  version: integer().notNull().default(1),
  updatedAt: createdAt(),
  acknowledgedAt: at(),
  dispatchedAt: at(),
  resolvedAt: at(),
  closedAt: at(),
}, (t) => [
  // The one guarantee against duplicate tickets, whatever the number of gateway instances.
  uniqueIndex('tickets_one_open').on(t.deviceId, t.problem).where(OPEN_TICKET),
  uniqueIndex('tickets_one_open_without_device').on(t.customerId, t.problem).where(sql`device_id is null and ${OPEN_TICKET}`),
  index().on(t.customerId),
  index().on(t.status),
  index().on(t.deviceId, t.problem, t.openedAt),
  index('tickets_escalation_due').on(t.nextEscalationAt).where(sql`next_escalation_at is not null`),
  // KPI periods select tickets by when they opened and when they were resolved.
  index().on(t.openedAt),
  index().on(t.resolvedAt),
])

// Every change to a ticket: who, when, what. The CRM's view of the ticket's life.
export const ticketHistory = pgTable('ticket_history', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  ticketId: text().notNull().references(() => tickets.id),
  at: createdAt(),
  actor: text().notNull(),
  action: text().notNull(),
  fromStatus: text(),
  toStatus: text(),
  changes: jsonb().$type<Record<string, unknown>>().notNull().default({}),
  comment: text(),
}, (t) => [index().on(t.ticketId, t.id)])

export const contacts = pgTable('contacts', {
  id: text().primaryKey(),
  customerId: text().references(() => customers.id),
  deviceId: text().references(() => devices.id),
  channel: text().notNull(),
  reason: text().notNull(),
  problem: text(),
  ticketId: text().references(() => tickets.id),
  // 'known_problem' when an open ticket already existed, 'new_complaint' when the contact opened one.
  linkage: text().notNull(),
  createdBy: text(),
  createdAt: createdAt(),
}, (t) => [index().on(t.customerId), index().on(t.ticketId), index().on(t.createdAt)])

export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: text().primaryKey(),
  url: text().notNull(),
  events: jsonb().$type<string[]>().notNull(),
  description: text(),
  // Newest first; older secrets keep signing until they expire so receivers can rotate.
  secrets: jsonb().$type<{ secret: string; expiresAt: string | null }[]>().notNull(),
  enabled: boolean().notNull().default(true),
  disabledReason: text(),
  createdAt: createdAt(),
  updatedAt: createdAt(),
})

export const outbox = pgTable('outbox', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  messageId: text().notNull().unique(),
  subscriptionId: text().notNull().references(() => webhookSubscriptions.id),
  eventType: text().notNull(),
  ticketId: text(),
  payload: jsonb().notNull(),
  status: text().notNull().default('pending'),
  attempts: integer().notNull().default(0),
  nextAttemptAt: createdAt(),
  lockedUntil: at(),
  lockedBy: text(),
  lastError: text(),
  createdAt: createdAt(),
  deliveredAt: at(),
}, (t) => [
  index('outbox_due').on(t.nextAttemptAt).where(sql`status = 'pending'`),
  index('outbox_order').on(t.subscriptionId, t.ticketId, t.id).where(sql`status = 'pending'`),
])

export const deliveryAttempts = pgTable('delivery_attempts', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  outboxId: bigint({ mode: 'number' }).notNull().references(() => outbox.id),
  attempt: integer().notNull(),
  startedAt: createdAt(),
  durationMs: integer().notNull(),
  statusCode: integer(),
  outcome: text().notNull(),
  error: text(),
}, (t) => [index().on(t.outboxId)])
export * from './notify-schema.js'
