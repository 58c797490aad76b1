import { and, asc, eq } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { newId } from '../db/ids.js'
import { outbox, webhookSubscriptions } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import { assertSafeWebhookUrl } from './safe-address.js'
import { newWebhookSecret } from './sign.js'

export const WEBHOOK_EVENTS = ['ticket.opened', 'ticket.updated', 'ticket.escalated', 'ticket.resolved', 'ticket.reopened'] as const
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]

/** A subscription as the API shows it: the secrets are only ever handed out by `create` and `rotateSecret`. */
export type Subscription = Omit<typeof webhookSubscriptions.$inferSelect, 'secrets'>

const DAY_MS = 86_400_000

export function createSubscriptionStore(database: Database, opts: { allowPrivateAddresses: boolean; now?: () => number }) {
  const { db } = database
  const now = opts.now ?? Date.now

  async function load(id: string) {
    const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id))
    if (!row) throw new PrecallError('NOT_FOUND', `webhook subscription ${id} not found`)
    return row
  }

  // Disabling a subscription cancels what it still owes: re-enabled later, it gets new events only,
  // not a burst of stale ones.
  async function disable(id: string, reason: string) {
    await load(id)
    await db.transaction(async (tx) => {
      await tx.update(webhookSubscriptions)
        .set({ enabled: false, disabledReason: reason, updatedAt: new Date(now()) })
        .where(eq(webhookSubscriptions.id, id))
      await tx.update(outbox).set({ status: 'cancelled', lockedUntil: null, lockedBy: null, lastError: reason })
        .where(and(eq(outbox.subscriptionId, id), eq(outbox.status, 'pending')))
    })
  }

  return {
    async create(input: { url: string; events: string[]; description?: string }): Promise<{ subscription: Subscription; secret: string }> {
      assertSafeWebhookUrl(input.url, opts.allowPrivateAddresses)
      const events = validateEvents(input.events)
      const secret = newWebhookSecret()
      const at = new Date(now())
      const [row] = await db.insert(webhookSubscriptions).values({
        id: newId('whk', at.getTime()),
        url: input.url,
        events,
        description: input.description ?? null,
        secrets: [{ secret, expiresAt: null }],
        createdAt: at,
        updatedAt: at,
      }).returning()
      return { subscription: withoutSecrets(row), secret }
    },

    async list(): Promise<Subscription[]> {
      const rows = await db.select().from(webhookSubscriptions).orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id))
      return rows.map(withoutSecrets)
    },

    async get(id: string): Promise<Subscription | undefined> {
      const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id))
      return row && withoutSecrets(row)
    },

    /** Disables the endpoint; its row and delivery history stay for audit. */
    remove: (id: string) => disable(id, 'removed'),

    async enable(id: string): Promise<void> {
      await load(id)
      await db.update(webhookSubscriptions)
        .set({ enabled: true, disabledReason: null, updatedAt: new Date(now()) })
        .where(eq(webhookSubscriptions.id, id))
    },

    /**
     * Puts a new secret first; the current ones keep signing for `keepOldForMs` so the receiver can
     * switch without rejecting a single message in between (Standard Webhooks §Key rotation).
     */
    async rotateSecret(id: string, rotation: { keepOldForMs?: number } = {}): Promise<{ secret: string }> {
      const row = await load(id)
      const at = now()
      const until = at + (rotation.keepOldForMs ?? DAY_MS)
      const kept = row.secrets
        .filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > at)
        .map((s) => ({ secret: s.secret, expiresAt: new Date(Math.min(until, s.expiresAt === null ? until : Date.parse(s.expiresAt))).toISOString() }))
      const secret = newWebhookSecret()
      await db.update(webhookSubscriptions)
        .set({ secrets: [{ secret, expiresAt: null }, ...kept], updatedAt: new Date(at) })
        .where(eq(webhookSubscriptions.id, id))
      return { secret }
    },

    disable,
  }
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>

function validateEvents(events: string[]): string[] {
  if (!Array.isArray(events) || events.length === 0) throw new PrecallError('VALIDATION', 'events must list at least one event type or "*"')
  const unknown = events.filter((e) => e !== '*' && !(WEBHOOK_EVENTS as readonly string[]).includes(e))
  if (unknown.length) throw new PrecallError('VALIDATION', `unknown event types: ${unknown.join(', ')}`, { allowed: [...WEBHOOK_EVENTS, '*'] })
  return [...new Set(events)]
}

function withoutSecrets(row: typeof webhookSubscriptions.$inferSelect): Subscription {
  const { secrets: _secrets, ...rest } = row
  return rest
}
