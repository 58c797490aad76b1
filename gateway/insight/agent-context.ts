import { and, desc, eq, gte, inArray, or, sql } from 'drizzle-orm'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import { OPEN_TICKET, contacts, customers, devices, notifications, tickets, type MetricSpec } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import { OPEN_STATUSES } from '../tickets/lifecycle.js'
import { toTicketJson } from '../tickets/ticket-json.js'
import { describeEvidence, formatTime } from './plain-words.js'
import { epochMs, toIso } from './sql-helpers.js'

export type ContextSubject = { customerId: string } | { deviceId: string }

const DAY_MS = 86_400_000
// An agent's screen, not an export: enough history to answer the call, bounded so a customer
// with years of tickets costs the same as a new one.
const MAX_TICKETS = 100
const MAX_CONTACTS = 50
const MAX_DELIVERIES = 200
const MAX_NOTIFICATIONS = 100

type DeviceRow = {
  id: string; type_id: string; type_name: string; type_metrics: Record<string, MetricSpec>; model: string | null; serial: string | null
  firmware: string | null; status: string | null; status_at: number | null; customer_id: string | null; reading_ts: number | null; reading_metrics: Record<string, number> | null
}
type DeliveryRow = {
  id: number; ticket_id: string; event_type: string; subscription_id: string; url: string | null; status: string; attempts: number; last_error: string | null
  created_at: number; delivered_at: number | null; next_attempt_at: number | null; attempt_at: number | null; attempt_status_code: number | null; attempt_outcome: string | null
}

/**
 * Everything an agent needs on screen when the phone rings, in six queries whatever the number of
 * devices or tickets: subject, devices with their newest reading, tickets, contacts, customer
 * messages, deliveries.
 * A device context is the customer's context narrowed to that one appliance.
 */
export async function loadAgentContext(database: Database, policy: Config['tickets'], subject: ContextSubject, opts: { days: number; now: number }) {
  const { db } = database
  const since = new Date(opts.now - opts.days * DAY_MS)

  const customer = 'customerId' in subject
    ? (await db.select().from(customers).where(eq(customers.id, subject.customerId)))[0]
    : await customerOfDevice(database, subject.deviceId)
  if (!customer && 'customerId' in subject) throw new PrecallError('NOT_FOUND', `customer ${subject.customerId} does not exist`)
  const timeZone = customer?.timezone ?? 'UTC'

  const ticketScope = 'customerId' in subject ? eq(tickets.customerId, subject.customerId) : eq(tickets.deviceId, subject.deviceId)
  const contactScope = 'customerId' in subject ? eq(contacts.customerId, subject.customerId) : eq(contacts.deviceId, subject.deviceId)
  const [deviceRows, ticketRows, contactRows] = await Promise.all([
    loadDevices(database, subject),
    // Open whatever their age, plus anything touched within the window.
    db.select().from(tickets).where(and(ticketScope, or(OPEN_TICKET, gte(tickets.updatedAt, since))))
      .orderBy(desc(tickets.openedAt)).limit(MAX_TICKETS),
    db.select().from(contacts).where(and(contactScope, gte(contacts.createdAt, since)))
      .orderBy(desc(contacts.createdAt)).limit(MAX_CONTACTS),
  ])
  const [deliveryRows, messageRows] = await Promise.all([
    loadDeliveries(database, ticketRows.map((t) => t.id)),
    customer
      ? db.select().from(notifications).where(and(eq(notifications.customerId, customer.id), gte(notifications.createdAt, since)))
        .orderBy(desc(notifications.id)).limit(MAX_NOTIFICATIONS)
      : Promise.resolve([]),
  ])

  const unitsByDevice = new Map(deviceRows.map((d) => [d.id, unitsOf(d.type_metrics)]))
  const ticketList = ticketRows.map((row) => ({
    ...toTicketJson(row),
    evidenceInWords: describeEvidence(row.evidence, { timeZone, units: row.deviceId ? unitsByDevice.get(row.deviceId) : undefined }),
  }))
  const isOpen = (status: string) => (OPEN_STATUSES as readonly string[]).includes(status)

  return {
    customer: customer ? describeCustomer(customer, policy) : null,
    devices: deviceRows.map(describeDevice),
    openTickets: ticketList.filter((t) => isOpen(t.status)),
    recentTickets: ticketList.filter((t) => !isOpen(t.status)),
    predictedFailures: ticketRows
      .filter((t) => isOpen(t.status) && t.predictedFailureAt)
      .sort((a, b) => a.predictedFailureAt!.getTime() - b.predictedFailureAt!.getTime())
      .map((t) => ({
        ticketId: t.id, deviceId: t.deviceId, problem: t.problem, title: t.title,
        predictedFailureAt: t.predictedFailureAt!.toISOString(),
        inWords: `${t.title}: predicted around ${formatTime(t.predictedFailureAt!.getTime(), timeZone)} (customer time)`,
      })),
    contacts: contactRows.map((c) => ({
      id: c.id, at: c.createdAt.toISOString(), channel: c.channel, reason: c.reason, problem: c.problem,
      deviceId: c.deviceId, ticketId: c.ticketId, linkage: c.linkage, recordedBy: c.createdBy,
    })),
    // What the customer was already told, and whether it reached them: the agent should not repeat it.
    notifications: messageRows
      .filter((n) => 'customerId' in subject || n.ticketId === null || ticketRows.some((t) => t.id === n.ticketId))
      .map((n) => ({
        id: n.id, kind: n.kind, ticketId: n.ticketId, status: n.status, channel: n.channel, address: n.address, reason: n.reason,
        createdAt: n.createdAt.toISOString(), sentAt: n.sentAt?.toISOString() ?? null, deliveredAt: n.deliveredAt?.toISOString() ?? null,
        text: n.rendered?.body ?? null,
      })),
    // What the CRM was told about these tickets: webhook deliveries.
    deliveries: deliveryRows.map(describeDelivery),
    window: { days: opts.days, since: since.toISOString(), limits: { tickets: MAX_TICKETS, contacts: MAX_CONTACTS, notifications: MAX_NOTIFICATIONS, deliveries: MAX_DELIVERIES } },
  }
}

async function customerOfDevice(database: Database, deviceId: string) {
  const [row] = await database.db.select({ device: devices.id, customer: customers }).from(devices)
    .leftJoin(customers, eq(customers.id, devices.customerId)).where(eq(devices.id, deviceId))
  if (!row) throw new PrecallError('NOT_FOUND', `device ${deviceId} does not exist`)
  return row.customer ?? undefined
}

// The newest telemetry by event time, one index probe per device on readings_device_ts_dedup.
function loadDevices(database: Database, subject: ContextSubject) {
  const scope = 'customerId' in subject ? sql`d.customer_id = ${subject.customerId}` : sql`d.id = ${subject.deviceId}`
  return database.query<DeviceRow>(sql`
    select d.id, d.type_id, t.name as type_name, t.metrics as type_metrics, d.model, d.serial, d.firmware, d.customer_id,
      d.status, ${epochMs(sql`d.status_at`)} as status_at, ${epochMs(sql`r.ts`)} as reading_ts, r.metrics as reading_metrics
    from devices d
    join device_types t on t.id = d.type_id
    left join lateral (
      select ts, metrics from readings where device_id = d.id and kind = 'telemetry' order by ts desc limit 1
    ) r on true
    where ${scope}
    order by d.id`)
}

function loadDeliveries(database: Database, ticketIds: string[]) {
  if (ticketIds.length === 0) return Promise.resolve([])
  return database.query<DeliveryRow>(sql`
    select o.id::float8 as id, o.ticket_id, o.event_type, o.subscription_id, s.url, o.status, o.attempts, o.last_error,
      ${epochMs(sql`o.created_at`)} as created_at, ${epochMs(sql`o.delivered_at`)} as delivered_at,
      case when o.status = 'pending' then ${epochMs(sql`o.next_attempt_at`)} end as next_attempt_at,
      ${epochMs(sql`a.started_at`)} as attempt_at, a.status_code as attempt_status_code, a.outcome as attempt_outcome
    from outbox o
    left join webhook_subscriptions s on s.id = o.subscription_id
    left join lateral (
      select started_at, status_code, outcome from delivery_attempts where outbox_id = o.id order by attempt desc limit 1
    ) a on true
    where ${inArray(sql`o.ticket_id`, ticketIds)}
    order by o.id desc
    limit ${MAX_DELIVERIES}`)
}

function unitsOf(metrics: Record<string, MetricSpec>) {
  return Object.fromEntries(Object.entries(metrics).map(([name, spec]) => [name, spec.unit]))
}

function describeCustomer(c: typeof customers.$inferSelect, policy: Config['tickets']) {
  const byTag = c.tags.find((tag) => policy.tagPolicy[tag]?.preferredChannel)
  const firstConsented = c.channels.find((ch) => ch.consent)
  return {
    id: c.id, name: c.name, locale: c.locale, timezone: c.timezone, tags: c.tags, channels: c.channels,
    preferredChannel: byTag
      ? { type: policy.tagPolicy[byTag].preferredChannel!, because: `tag ${byTag}` }
      : firstConsented ? { type: firstConsented.type, because: 'first channel the customer consented to' } : null,
  }
}

function describeDevice(d: DeviceRow) {
  return {
    id: d.id, typeId: d.type_id, typeName: d.type_name, model: d.model, serial: d.serial, firmware: d.firmware, customerId: d.customer_id,
    status: d.status, statusAt: toIso(d.status_at),
    lastReading: d.reading_ts === null ? null : {
      ts: toIso(d.reading_ts),
      metrics: Object.fromEntries(Object.entries(d.reading_metrics ?? {}).map(([name, value]) => [name, { value, unit: d.type_metrics[name]?.unit ?? null }])),
    },
  }
}

function describeDelivery(d: DeliveryRow) {
  return {
    id: d.id, ticketId: d.ticket_id, event: d.event_type, subscriptionId: d.subscription_id, url: d.url,
    status: d.status, attempts: d.attempts, lastError: d.last_error,
    createdAt: toIso(d.created_at), deliveredAt: toIso(d.delivered_at), nextAttemptAt: toIso(d.next_attempt_at),
    lastAttempt: d.attempt_at === null ? null : { at: toIso(d.attempt_at), statusCode: d.attempt_status_code, outcome: d.attempt_outcome },
  }
}
