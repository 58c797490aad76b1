import { z } from 'zod'
import type { TagPolicy } from '../tickets/ticket-policy.js'
import { parseQuietHours, type QuietHours } from './local-time.js'

export const PROVIDER_CHANNELS = ['sms', 'push', 'wechat'] as const
export type ProviderChannel = (typeof PROVIDER_CHANNELS)[number]

/** What a provider body template may insert; a string that is exactly one placeholder keeps the value's type. */
export const PROVIDER_PLACEHOLDERS = ['to', 'subject', 'text', 'messageId', 'customerId', 'ticketId', 'kind', 'locale', 'channel', 'urgent', 'callbackUrl'] as const

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g

function unknownPlaceholders(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((n) => !(PROVIDER_PLACEHOLDERS as readonly string[]).includes(n))
  if (Array.isArray(value)) return value.flatMap(unknownPlaceholders)
  if (value && typeof value === 'object') return Object.values(value).flatMap(unknownPlaceholders)
  return []
}

export const DEFAULT_PROVIDER_BODY = { to: '{{to}}', subject: '{{subject}}', text: '{{text}}', messageId: '{{messageId}}', urgent: '{{urgent}}', callbackUrl: '{{callbackUrl}}' }

/** One HTTP provider (an SMS gateway, a push service, WeChat template messages). */
export const providerSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** One header carrying the provider's credentials, e.g. "Authorization: Bearer …". */
  authHeader: z.string().regex(/^[A-Za-z0-9-]+: ?\S.*$/, 'expected "Header-Name: value"').optional(),
  /** Signs requests like our webhooks and verifies the provider's status and inbound callbacks. */
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, 'expected a whsec_… secret').optional(),
  body: z.record(z.string(), z.unknown()).default(DEFAULT_PROVIDER_BODY)
    .refine((b) => unknownPlaceholders(b).length === 0, { message: `body may only use ${PROVIDER_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}` }),
  /** Where the provider's JSON answer carries its message id (dotted path). */
  idField: z.string().min(1).default('id'),
})
export type ProviderConfig = z.output<typeof providerSchema>

export const providersSchema = z.strictObject(Object.fromEntries(PROVIDER_CHANNELS.map((c) => [c, providerSchema.optional()])) as Record<ProviderChannel, z.ZodOptional<typeof providerSchema>>)

/** NOTIFY_PROVIDERS: JSON like {"sms":{"url":"https://…","authHeader":"Authorization: Bearer …","secret":"whsec_…"}}. */
export const providersEnv = z.string().transform((s, ctx) => {
  try { return JSON.parse(s) as unknown } catch { ctx.addIssue({ code: 'custom', message: 'expected JSON like {"sms":{"url":"https://…"}}' }); return z.NEVER }
}).pipe(providersSchema)

/** NOTIFY_QUIET_HOURS: "21:00-08:00" in each customer's timezone, or "off". */
export const quietHoursEnv = z.string().transform((s, ctx) => {
  const parsed = parseQuietHours(s)
  if (parsed === undefined) { ctx.addIssue({ code: 'custom', message: 'expected "HH:MM-HH:MM" (e.g. "21:00-08:00") or "off"' }); return z.NEVER }
  return parsed
})

export const DEFAULT_NOTIFY_RETRY_SCHEDULE_MS = [60_000, 300_000, 1_800_000, 7_200_000] as const

export type NotifyConfig = {
  quietHours: QuietHours | null
  dailyCap: number
  retryScheduleMs: readonly number[]
  leaseMs: number
  pollMs: number
  timeoutMs: number
  smtpUrl?: string
  emailFrom: string
  providers: Partial<Record<ProviderChannel, ProviderConfig>>
  allowPrivateAddresses: boolean
  /** Also show each message on the appliance's own display (`devices/<id>/commands/notice`). */
  deviceNotice: boolean
  /** Base of links in messages (unsubscribe) and of provider callback URLs, e.g. https://precall.example.com. */
  publicUrl?: string
  tagPolicy: TagPolicy
}

export const DEFAULT_NOTIFY_CONFIG: NotifyConfig = {
  quietHours: parseQuietHours('21:00-08:00')!,
  dailyCap: 3,
  retryScheduleMs: [...DEFAULT_NOTIFY_RETRY_SCHEDULE_MS],
  leaseMs: 30_000,
  pollMs: 1_000,
  timeoutMs: 10_000,
  emailFrom: 'precall <noreply@precall.invalid>',
  providers: {},
  allowPrivateAddresses: false,
  deviceNotice: false,
  tagPolicy: {},
}
