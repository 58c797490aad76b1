import { desc, eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Database, Tx } from '../db/database.js'
import { randomSecret } from '../db/ids.js'
import { consentLog, notificationPreferences } from '../db/notify-schema.js'
import { customers, type Channel } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import { preferredChannel, type TagPolicy } from '../tickets/ticket-policy.js'
import { parseQuietHours, type QuietHours } from './local-time.js'

export const CHANNEL_TYPES = ['sms', 'email', 'push', 'wechat', 'mqtt'] as const

export const preferencesInput = z.strictObject({
  /** The customer's channels in order of preference, each with its consent; replaces the list. */
  channels: z.array(z.strictObject({ type: z.enum(CHANNEL_TYPES), address: z.string().min(1).max(320), consent: z.boolean() })).max(10).optional(),
  /** "HH:MM-HH:MM" in the customer's timezone, "off", or null for the gateway's default. */
  quietHours: z.string().refine((s) => parseQuietHours(s) !== undefined, 'expected "HH:MM-HH:MM" or "off"').nullable().optional(),
  /** Messages per local day before the rest wait for a digest; null for the gateway's default. */
  dailyCap: z.number().int().min(1).max(50).nullable().optional(),
}).refine((p) => Object.keys(p).length > 0, { message: 'send at least one of channels, quietHours, dailyCap' })
export type PreferencesInput = z.output<typeof preferencesInput>

// Reply keywords that withdraw consent: the usual English ones and the Chinese carriers' TD / T / 退订.
const STOP_WORDS = new Set(['STOP', 'UNSUBSCRIBE', 'END', 'QUIT', 'CANCEL', 'TD', 'T', '退订'])

type Customer = typeof customers.$inferSelect

/** The order a message tries channels in: a channel named by a customer tag first, then the customer's order. */
export function channelOrder(customer: Pick<Customer, 'channels' | 'tags'>, tagPolicy: TagPolicy): Channel[] {
  const first = preferredChannel(customer.tags, tagPolicy)
  return [...customer.channels.filter((c) => c.type === first), ...customer.channels.filter((c) => c.type !== first)]
}

/** Consent and preferences per customer and channel; every change of consent is logged with its source. */
export function createPreferenceStore(database: Database, opts: { defaults: { quietHours: QuietHours | null; dailyCap: number }; tagPolicy: TagPolicy; now?: () => number }) {
  const { db } = database
  const now = opts.now ?? Date.now

  async function logConsent(tx: Tx, customerId: string, before: Channel[], after: Channel[], source: string, actor: string | null) {
    const at = new Date(now())
    const changed = after.filter((c) => before.find((b) => b.type === c.type && b.address === c.address)?.consent !== c.consent)
    if (changed.length === 0) return
    await tx.insert(consentLog).values(changed.map((c) => ({ customerId, channel: c.type, address: c.address, consent: c.consent, source, actor, at })))
  }

  async function lockCustomer(tx: Tx, customerId: string): Promise<Customer> {
    const [row] = await tx.select().from(customers).where(eq(customers.id, customerId)).for('update')
    if (!row) throw new PrecallError('NOT_FOUND', `customer ${customerId} does not exist`)
    return row
  }

  async function withdraw(tx: Tx, customer: Customer, matches: (c: Channel) => boolean, source: string, actor: string | null) {
    const channels = customer.channels.map((c) => (matches(c) ? { ...c, consent: false } : c))
    await logConsent(tx, customer.id, customer.channels, channels, source, actor)
    await tx.update(customers).set({ channels, updatedAt: new Date(now()) }).where(eq(customers.id, customer.id))
    return customer.channels.filter((c) => matches(c) && c.consent).map((c) => c.type)
  }

  async function get(customerId: string) {
    const [customer] = await db.select().from(customers).where(eq(customers.id, customerId))
    if (!customer) throw new PrecallError('NOT_FOUND', `customer ${customerId} does not exist`)
    const [prefs] = await db.select().from(notificationPreferences).where(eq(notificationPreferences.customerId, customerId))
    const quiet = prefs?.quietHours ? parseQuietHours(prefs.quietHours) ?? null : opts.defaults.quietHours
    const log = await db.select().from(consentLog).where(eq(consentLog.customerId, customerId)).orderBy(desc(consentLog.id)).limit(50)
    return {
      customerId,
      locale: customer.locale,
      timezone: customer.timezone,
      channels: customer.channels,
      channelOrder: channelOrder(customer, opts.tagPolicy).map((c) => c.type),
      quietHours: quiet ? `${quiet.start}-${quiet.end}` : 'off',
      quietHoursWindow: quiet,
      quietHoursSource: prefs?.quietHours ? 'customer' as const : 'default' as const,
      dailyCap: prefs?.dailyCap ?? opts.defaults.dailyCap,
      dailyCapSource: prefs?.dailyCap ? 'customer' as const : 'default' as const,
      consentLog: log.map((l) => ({ at: l.at.toISOString(), channel: l.channel, address: l.address, consent: l.consent, source: l.source, actor: l.actor })),
      customer,
    }
  }

  /** The customer's unsubscribe token, created on first use; links carry it instead of the customer id. */
  async function tokenFor(customerId: string): Promise<string> {
    await db.insert(notificationPreferences).values({ customerId, unsubscribeToken: randomSecret(18), updatedAt: new Date(now()) }).onConflictDoNothing()
    const [row] = await db.select({ token: notificationPreferences.unsubscribeToken }).from(notificationPreferences).where(eq(notificationPreferences.customerId, customerId))
    return row.token
  }

  return {
    get,
    tokenFor,

    async update(customerId: string, input: PreferencesInput, actor: string | null) {
      await db.transaction(async (tx) => {
        const customer = await lockCustomer(tx, customerId)
        const at = new Date(now())
        if (input.channels) {
          await logConsent(tx, customerId, customer.channels, input.channels, 'api', actor)
          await tx.update(customers).set({ channels: input.channels, updatedAt: at }).where(eq(customers.id, customerId))
        }
        if (input.quietHours !== undefined || input.dailyCap !== undefined) {
          const set = {
            ...(input.quietHours !== undefined ? { quietHours: input.quietHours } : {}),
            ...(input.dailyCap !== undefined ? { dailyCap: input.dailyCap } : {}),
            updatedBy: actor, updatedAt: at,
          }
          await tx.insert(notificationPreferences).values({ customerId, unsubscribeToken: randomSecret(18), ...set })
            .onConflictDoUpdate({ target: notificationPreferences.customerId, set })
        }
      })
      return get(customerId)
    },

    /** An unsubscribe link: withdraws consent for one channel type, or for all when none is named. */
    async unsubscribe(token: string, channel?: string): Promise<{ customerId: string; withdrawn: string[] }> {
      return db.transaction(async (tx) => {
        const [prefs] = await tx.select().from(notificationPreferences).where(eq(notificationPreferences.unsubscribeToken, token))
        if (!prefs) throw new PrecallError('NOT_FOUND', 'unknown or expired unsubscribe link')
        const customer = await lockCustomer(tx, prefs.customerId)
        const withdrawn = await withdraw(tx, customer, (c) => !channel || c.type === channel, 'unsubscribe_link', null)
        return { customerId: customer.id, withdrawn }
      })
    },

    /** A reply such as STOP or 退订 from `address` on `channel`: withdraws that channel from every customer using that address. */
    async inboundReply(channel: string, address: string, text: string): Promise<{ unsubscribed: string[] }> {
      if (!STOP_WORDS.has(text.trim().toUpperCase())) return { unsubscribed: [] }
      return db.transaction(async (tx) => {
        const holders = await tx.select().from(customers)
          .where(sql`${customers.channels} @> ${JSON.stringify([{ type: channel, address }])}::jsonb`).for('update')
        const unsubscribed: string[] = []
        for (const customer of holders) {
          const withdrawn = await withdraw(tx, customer, (c) => c.type === channel && c.address === address, 'keyword', `reply "${text.trim()}"`)
          if (withdrawn.length) unsubscribed.push(customer.id)
        }
        return { unsubscribed }
      })
    },
  }
}

export type PreferenceStore = ReturnType<typeof createPreferenceStore>
