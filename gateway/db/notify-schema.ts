import { sql } from 'drizzle-orm'
import {
  bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp,
} from 'drizzle-orm/pg-core'

// Customer notifications: re-exported by schema.ts. No foreign keys into schema.ts on purpose: the
// two modules import each other, and a ticket's messages are kept even if the ticket's row is not.
const createdAt = () => timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow()
const at = () => timestamp({ withTimezone: true, mode: 'date' })

/**
 * One message to a customer about one ticket state change (or one digest). `dedupKey` is the state
 * change (`<ticket>:<kind>:<discriminator>`, `digest:<customer>:<local date>`): inserting it twice —
 * a retried transaction, a restart, two detections racing — leaves one row, hence one message.
 */
export const notifications = pgTable('notifications', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  messageId: text().notNull().unique(),
  dedupKey: text().notNull().unique(),
  customerId: text().notNull(),
  ticketId: text(),
  kind: text().notNull(),
  // Critical problems: no quiet hours, no cap.
  urgent: boolean().notNull().default(false),
  // The ticket as it was at the change, so a later change cannot rewrite what this message says.
  payload: jsonb().$type<Record<string, unknown>>().notNull(),
  status: text().notNull().default('queued'),
  // Why it is deferred, suppressed or failed, in words an operator can act on.
  reason: text(),
  digestId: bigint({ mode: 'number' }),
  channel: text(),
  address: text(),
  providerMessageId: text(),
  locale: text(),
  rendered: jsonb().$type<{ subject: string; body: string }>(),
  rounds: integer().notNull().default(0),
  nextAttemptAt: createdAt(),
  lockedUntil: at(),
  lockedBy: text(),
  // The customer-local day whose cap this message holds a slot of; set once so a resend after a crash doesn't count twice.
  quotaDay: text(),
  lastError: text(),
  createdAt: createdAt(),
  updatedAt: createdAt(),
  sentAt: at(),
  deliveredAt: at(),
}, (t) => [
  index('notifications_due').on(t.nextAttemptAt).where(sql`status in ('queued', 'deferred')`),
  index('notifications_customer_pending').on(t.customerId, t.id).where(sql`status in ('queued', 'deferred')`),
  index().on(t.customerId, t.createdAt),
  index().on(t.ticketId),
  index().on(t.digestId),
  index().on(t.providerMessageId),
  index().on(t.status, t.id),
])

/** Every try of every channel, refusals included: a channel skipped for lack of consent is a row too. */
export const notificationAttempts = pgTable('notification_attempts', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  notificationId: bigint({ mode: 'number' }).notNull().references(() => notifications.id),
  round: integer().notNull(),
  channel: text().notNull(),
  address: text(),
  startedAt: createdAt(),
  durationMs: integer().notNull().default(0),
  outcome: text().notNull(),
  statusCode: integer(),
  providerMessageId: text(),
  error: text(),
}, (t) => [index().on(t.notificationId)])

/** What a customer chose beyond `customers.channels` (order and consent live there). Null = the default. */
export const notificationPreferences = pgTable('notification_preferences', {
  customerId: text().primaryKey(),
  // "21:00-08:00" in the customer's timezone, or "off".
  quietHours: text(),
  dailyCap: integer(),
  unsubscribeToken: text().notNull().unique(),
  updatedBy: text(),
  updatedAt: createdAt(),
})

/** Every change of consent, with where it came from: the API, an unsubscribe link, a STOP keyword. */
export const consentLog = pgTable('notification_consent_log', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  customerId: text().notNull(),
  channel: text().notNull(),
  address: text(),
  consent: boolean().notNull(),
  source: text().notNull(),
  actor: text(),
  at: createdAt(),
}, (t) => [index().on(t.customerId, t.id)])

/** Templates edited through the API; what is not stored here falls back to the built-in ones. */
export const notificationTemplates = pgTable('notification_templates', {
  kind: text().notNull(),
  locale: text().notNull(),
  channel: text().notNull().default('*'),
  subject: text().notNull().default(''),
  body: text().notNull(),
  version: integer().notNull().default(1),
  updatedBy: text(),
  updatedAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.kind, t.locale, t.channel] })])

/** Messages counted against a customer's daily cap, per customer-local day; the row lock serialises senders. */
export const notificationQuota = pgTable('notification_quota', {
  customerId: text().notNull(),
  day: text().notNull(),
  used: integer().notNull().default(0),
}, (t) => [primaryKey({ columns: [t.customerId, t.day] })])
