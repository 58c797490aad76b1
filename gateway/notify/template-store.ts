import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Database } from '../db/database.js'
import { notificationTemplates } from '../db/notify-schema.js'
import { PrecallError } from '../errors.js'
import { DEFAULT_TEMPLATES, NOTIFICATION_KINDS, fieldsOf, type NotificationKind, type TemplateText } from './default-templates.js'
import { parseTemplate, renderTemplate, type TemplateFields } from './template.js'

export const localeSchema = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'expected a BCP 47 locale such as "zh-CN" or "en"')
export const templateChannelSchema = z.enum(['*', 'email', 'sms', 'push', 'wechat', 'mqtt'])
export const templateInput = z.strictObject({
  subject: z.string().max(500).default(''),
  body: z.string().min(1).max(10_000),
})

export type StoredTemplate = { kind: NotificationKind; locale: string; channel: string; subject: string; body: string; source: 'stored' | 'builtin'; version: number; updatedBy: string | null; updatedAt: string | null }

const language = (locale: string) => locale.split('-')[0]

/** Refuses, with every problem listed, a template that names a field its kind does not have. */
export function checkTemplate(kind: NotificationKind, text: TemplateText) {
  const problems = [
    ...problemsOf('subject', parseTemplate(text.subject, fieldsOf(kind))),
    ...problemsOf('body', parseTemplate(text.body, fieldsOf(kind))),
  ]
  if (problems.length) throw new PrecallError('VALIDATION', `template ${kind}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems })
}

function problemsOf(path: string, result: ReturnType<typeof parseTemplate>) {
  return result.ok ? [] : result.problems.map((message) => ({ path, message }))
}

/** Renders a checked template; a stored template is checked when saved, so this cannot fail on fields. */
export function renderText(kind: NotificationKind, text: TemplateText, fields: TemplateFields): TemplateText {
  const render = (source: string) => {
    const parsed = parseTemplate(source, fieldsOf(kind))
    if (!parsed.ok) throw new PrecallError('INTERNAL', `template ${kind} is broken: ${parsed.problems.join('; ')}`)
    return renderTemplate(parsed.nodes, fields).trim()
  }
  return { subject: render(text.subject), body: render(text.body) }
}

/** Templates per kind, locale and channel (`*` for all); stored ones override the built-in ones. */
export function createTemplateStore(database: Database, opts: { now?: () => number } = {}) {
  const { db } = database
  const now = opts.now ?? Date.now

  /**
   * The template a customer gets: their locale, then its language (`zh-TW` → any `zh`), then
   * English; at each step a template for the channel beats one for all channels.
   */
  async function resolve(kind: NotificationKind, locale: string, channel: string): Promise<TemplateText & { locale: string }> {
    const stored = await db.select().from(notificationTemplates)
      .where(and(eq(notificationTemplates.kind, kind), inArray(notificationTemplates.channel, [channel, '*'])))
    const locales = [...new Set([...stored.map((t) => t.locale), ...Object.keys(DEFAULT_TEMPLATES)])]
    const order = [locale, language(locale), ...locales.filter((l) => language(l) === language(locale)).sort(), 'en']
    for (const candidate of order) {
      const exact = stored.find((t) => t.locale === candidate && t.channel === channel) ?? stored.find((t) => t.locale === candidate && t.channel === '*')
      if (exact) return { subject: exact.subject, body: exact.body, locale: candidate }
      const builtin = DEFAULT_TEMPLATES[candidate]?.[kind]
      if (builtin) return { ...builtin, locale: candidate }
    }
    return { ...DEFAULT_TEMPLATES.en[kind], locale: 'en' }
  }

  async function list(): Promise<StoredTemplate[]> {
    const stored = await db.select().from(notificationTemplates)
      .orderBy(asc(notificationTemplates.kind), asc(notificationTemplates.locale), asc(notificationTemplates.channel))
    const key = (t: { kind: string; locale: string; channel: string }) => `${t.kind}|${t.locale}|${t.channel}`
    const overridden = new Set(stored.map(key))
    const builtins: StoredTemplate[] = Object.entries(DEFAULT_TEMPLATES).flatMap(([locale, byKind]) => NOTIFICATION_KINDS
      .filter((kind) => !overridden.has(key({ kind, locale, channel: '*' })))
      .map((kind) => ({ kind, locale, channel: '*', ...byKind[kind], source: 'builtin' as const, version: 0, updatedBy: null, updatedAt: null })))
    return [
      ...stored.map((t) => ({ ...t, kind: t.kind as NotificationKind, source: 'stored' as const, updatedAt: t.updatedAt.toISOString() })),
      ...builtins,
    ].sort((a, b) => key(a).localeCompare(key(b)))
  }

  return {
    resolve,
    list,

    async get(kind: NotificationKind, locale: string, channel = '*'): Promise<StoredTemplate> {
      const found = (await list()).find((t) => t.kind === kind && t.locale === locale && t.channel === channel)
      if (!found) throw new PrecallError('NOT_FOUND', `no ${kind} template for locale ${locale} and channel ${channel}`)
      return found
    },

    /** Checks, then stores; a broken template never reaches a customer. */
    async save(input: { kind: NotificationKind; locale: string; channel: string } & TemplateText, actor: string | null): Promise<StoredTemplate> {
      checkTemplate(input.kind, input)
      const at = new Date(now())
      const [row] = await db.insert(notificationTemplates)
        .values({ ...input, version: 1, updatedBy: actor, updatedAt: at })
        .onConflictDoUpdate({
          target: [notificationTemplates.kind, notificationTemplates.locale, notificationTemplates.channel],
          set: { subject: input.subject, body: input.body, version: sql`${notificationTemplates.version} + 1`, updatedBy: actor, updatedAt: at },
        }).returning()
      return { ...row, kind: input.kind, source: 'stored', updatedAt: row.updatedAt.toISOString() }
    },

    /** Drops a stored template; the built-in one (if any) applies again. */
    async remove(kind: NotificationKind, locale: string, channel = '*'): Promise<void> {
      const gone = await db.delete(notificationTemplates)
        .where(and(eq(notificationTemplates.kind, kind), eq(notificationTemplates.locale, locale), eq(notificationTemplates.channel, channel)))
        .returning({ kind: notificationTemplates.kind })
      if (gone.length === 0) throw new PrecallError('NOT_FOUND', `no stored ${kind} template for locale ${locale} and channel ${channel}`)
    },
  }
}

export type TemplateStore = ReturnType<typeof createTemplateStore>
