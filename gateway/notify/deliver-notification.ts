import { performance } from 'node:perf_hooks'
import { and, asc, eq, gt, notInArray } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { notificationAttempts, notificationPreferences, notifications } from '../db/notify-schema.js'
import { customers, type Channel } from '../db/schema.js'
import { nextAttemptDelay } from '../outbox/retry-schedule.js'
import type { TicketJson } from '../tickets/ticket-json.js'
import type { ChannelAdapter, SendResult } from './channels/channel.js'
import type { NotificationKind } from './default-templates.js'
import { localDate, parseQuietHours, quietUntil } from './local-time.js'
import { mergeIntoDigest } from './merge-digest.js'
import { digestFields, loadAppliances, ticketFields } from './message-fields.js'
import { type NotificationRow, renewNotificationLease, settleNotification } from './claim-notifications.js'
import type { NotifyConfig } from './notify-config.js'
import { channelOrder, type PreferenceStore } from './preference-store.js'
import { releaseSlot, reserveSlot } from './quota.js'
import { renderText, type TemplateStore } from './template-store.js'

/** What became of a message in one pass: the label of `precall_notifications_total`. */
export type NotifyOutcome = 'sent' | 'deferred' | 'digested' | 'suppressed' | 'retry' | 'failed' | 'lost_lease'

type Attempt = typeof notificationAttempts.$inferSelect
type Customer = typeof customers.$inferSelect
// Outcomes after which a channel is not tried again for the same message (until a replay).
const FINAL_FOR_CHANNEL = ['give_up', 'failed', 'unavailable']

export type DeliveryDeps = {
  database: Database
  config: NotifyConfig
  adapters: Partial<Record<string, ChannelAdapter>>
  templates: TemplateStore
  preferences: PreferenceStore
  workerId: string
  now: () => number
  random: () => number
}

/**
 * One pass over one leased message: is it still worth sending, may it go now (quiet hours), is
 * there room under the daily cap (else it waits in a digest), then its channels in the customer's
 * order — without consent skipped and recorded, failing ones falling over to the next.
 */
export function createDelivery(deps: DeliveryDeps) {
  const { database, config, adapters, workerId, now } = deps
  const { db } = database
  const key = (c: { channel?: string; type?: string; address: string | null }) => `${c.channel ?? c.type}|${c.address}`

  const settle = (row: NotificationRow, set: Partial<typeof notifications.$inferInsert>) =>
    settleNotification(db, row, workerId, { updatedAt: new Date(now()), ...set })

  async function giveUp(row: NotificationRow, status: 'suppressed' | 'failed', reason: string, set: Partial<typeof notifications.$inferInsert> = {}): Promise<NotifyOutcome> {
    const done = await db.transaction(async (tx) => {
      const ok = await settleNotification(tx, row, workerId, { status, reason, updatedAt: new Date(now()), quotaDay: null, ...set })
      if (ok && row.quotaDay) await releaseSlot(tx, { customerId: row.customerId, day: row.quotaDay })
      return ok
    })
    return done ? status : 'lost_lease'
  }

  async function attemptsSinceReplay(row: NotificationRow): Promise<Attempt[]> {
    const all = await db.select().from(notificationAttempts).where(eq(notificationAttempts.notificationId, row.id)).orderBy(asc(notificationAttempts.id))
    const replay = all.map((a) => a.outcome).lastIndexOf('replayed')
    return all.slice(replay + 1)
  }

  // A message that waited (quiet hours, cap) while the ticket moved on would arrive stale next to
  // the newer one, which names the problem too: only the newer one goes.
  async function superseded(row: NotificationRow) {
    if (!row.ticketId || row.status !== 'deferred') return undefined
    const [newer] = await db.select({ kind: notifications.kind }).from(notifications)
      .where(and(eq(notifications.ticketId, row.ticketId), gt(notifications.id, row.id), notInArray(notifications.status, ['suppressed', 'failed'])))
      .limit(1)
    return newer?.kind
  }

  async function render(row: NotificationRow, customer: Customer, channel: Channel) {
    const template = await deps.templates.resolve(row.kind as NotificationKind, customer.locale, channel.type)
    const unsubscribeUrl = config.publicUrl
      ? `${config.publicUrl.replace(/\/$/, '')}/api/v1/unsubscribe/${await deps.preferences.tokenFor(customer.id)}?channel=${channel.type}`
      : null
    const ctx = { customerName: customer.name, locale: template.locale, timeZone: customer.timezone, unsubscribeUrl }
    if (row.kind === 'digest') {
      const merged = await db.select().from(notifications).where(eq(notifications.digestId, row.id)).orderBy(asc(notifications.id))
      const items = merged.map((m) => ({ kind: m.kind, ticket: m.payload as TicketJson, createdAt: m.createdAt }))
      const appliances = await loadAppliances(database, items.map((i) => i.ticket.deviceId))
      return { locale: template.locale, unsubscribeUrl, count: items.length, text: renderText('digest', template, digestFields(items, appliances, ctx)) }
    }
    const ticket = row.payload as TicketJson
    const appliances = await loadAppliances(database, [ticket.deviceId])
    const fields = ticketFields(ticket, ticket.deviceId ? appliances.get(ticket.deviceId) : undefined, ctx)
    return { locale: template.locale, unsubscribeUrl, count: 1, text: renderText(row.kind as NotificationKind, template, fields) }
  }

  async function recordAttempt(row: NotificationRow, round: number, channel: Channel, outcome: string, extra: Partial<typeof notificationAttempts.$inferInsert> = {}) {
    await db.insert(notificationAttempts).values({ notificationId: row.id, round, channel: channel.type, address: channel.address, outcome, startedAt: new Date(now()), ...extra })
  }

  async function process(row: NotificationRow): Promise<NotifyOutcome> {
    const [customer] = await db.select().from(customers).where(eq(customers.id, row.customerId))
    if (!customer) return giveUp(row, 'suppressed', `customer ${row.customerId} does not exist`)
    const newer = await superseded(row)
    if (newer) return giveUp(row, 'suppressed', `superseded by a newer message about this ticket (${newer})`)

    const [prefs] = await db.select().from(notificationPreferences).where(eq(notificationPreferences.customerId, customer.id))
    const window = prefs?.quietHours ? parseQuietHours(prefs.quietHours) ?? null : config.quietHours
    const at = now()
    if (!row.urgent) {
      const until = quietUntil(at, window, customer.timezone)
      if (until !== null) {
        const ok = await settle(row, { status: 'deferred', reason: `quiet hours ${window!.start}-${window!.end} ${customer.timezone}`, nextAttemptAt: new Date(until) })
        return ok ? 'deferred' : 'lost_lease'
      }
    }
    if (!row.quotaDay) {
      const cap = row.urgent || row.kind === 'digest' ? null : prefs?.dailyCap ?? config.dailyCap
      const day = localDate(at, customer.timezone)
      const reserved = await db.transaction(async (tx) => {
        if (!(await reserveSlot(tx, { customerId: customer.id, day, cap }))) return 'full' as const
        if (!(await settleNotification(tx, row, workerId, { quotaDay: day, lockedUntil: row.lockedUntil, lockedBy: workerId }))) throw new LostLease()
        return 'reserved' as const
      }).catch((err) => { if (err instanceof LostLease) return 'lost' as const; throw err })
      if (reserved === 'lost') return 'lost_lease'
      if (reserved === 'full') return mergeIntoDigest(db, { row, customer, window, cap: cap!, workerId, now: at })
      row = { ...row, quotaDay: day }
    }
    return sendOnChannels(row, customer)
  }

  async function sendOnChannels(row: NotificationRow, customer: Customer): Promise<NotifyOutcome> {
    const round = row.rounds + 1
    const order = channelOrder(customer, config.tagPolicy)
    const attempts = await attemptsSinceReplay(row)
    const refusedBefore = new Set(attempts.filter((a) => a.outcome === 'refused').map(key))
    const done = new Set(attempts.filter((a) => FINAL_FOR_CHANNEL.includes(a.outcome)).map(key))
    for (const c of order) {
      if (!c.consent && !refusedBefore.has(key(c))) await recordAttempt(row, round, c, 'refused', { error: `no consent for ${c.type}` })
    }
    const consented = order.filter((c) => c.consent)
    if (consented.length === 0) {
      return giveUp(row, 'suppressed', order.length ? `no consent on any channel (${order.map((c) => c.type).join(', ')})` : 'the customer has no channels')
    }
    for (const c of consented) {
      if (adapters[c.type] || done.has(key(c))) continue
      await recordAttempt(row, round, c, 'unavailable', { error: `no ${c.type} provider is configured` })
      done.add(key(c))
    }
    const candidates = consented.filter((c) => !done.has(key(c)))
    if (candidates.length === 0) {
      const last = attempts.filter((a) => FINAL_FOR_CHANNEL.includes(a.outcome)).map((a) => `${a.channel}: ${a.error}`)
      return giveUp(row, 'failed', `no channel left to try${last.length ? `; ${last.join('; ')}` : ''}`, { rounds: round })
    }

    const errors: string[] = []
    for (const [i, channel] of candidates.entries()) {
      if (i > 0 && !(await renewNotificationLease(db, { id: row.id, now: now(), leaseMs: config.leaseMs, workerId }))) return 'lost_lease'
      const rendered = await render(row, customer, channel)
      const startedAt = now()
      const t0 = performance.now()
      const ticket = row.payload as Partial<TicketJson>
      const result: SendResult = await adapters[channel.type]!.send({
        messageId: row.messageId, customerId: customer.id, ticketId: row.ticketId, deviceId: ticket.deviceId ?? null, kind: row.kind,
        urgent: row.urgent, channel: channel.type, address: channel.address, locale: rendered.locale, ...rendered.text, unsubscribeUrl: rendered.unsubscribeUrl,
      })
      const log = {
        startedAt: new Date(startedAt), durationMs: Math.round(performance.now() - t0), statusCode: result.statusCode ?? null,
        providerMessageId: result.outcome === 'sent' ? result.providerMessageId ?? null : null, error: result.outcome === 'sent' ? null : result.error,
      }
      if (result.outcome === 'sent') {
        const ok = await db.transaction(async (tx) => {
          await tx.insert(notificationAttempts).values({ notificationId: row.id, round, channel: channel.type, address: channel.address, outcome: 'sent', ...log })
          return settleNotification(tx, row, workerId, {
            status: 'sent', reason: null, lastError: null, channel: channel.type, address: channel.address, providerMessageId: log.providerMessageId,
            locale: rendered.locale, rendered: rendered.text, rounds: round, sentAt: new Date(now()), updatedAt: new Date(now()),
          })
        })
        return ok ? 'sent' : 'lost_lease'
      }
      await recordAttempt(row, round, channel, result.outcome, log)
      errors.push(`${channel.type}: ${result.error}`)
    }

    const delay = nextAttemptDelay(round, config.retryScheduleMs, deps.random)
    if (delay === null) return giveUp(row, 'failed', `every channel failed, ${round} times; last: ${errors.join('; ')}`, { rounds: round, lastError: errors.join('; ') })
    const ok = await settle(row, { status: 'queued', reason: null, rounds: round, lastError: errors.join('; '), nextAttemptAt: new Date(now() + delay) })
    return ok ? 'retry' : 'lost_lease'
  }

  return { process }
}

class LostLease extends Error {}
