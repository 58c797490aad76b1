import { eq, inArray } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { deviceTypes, devices } from '../db/schema.js'
import type { TicketJson } from '../tickets/ticket-json.js'
import { WORDS, type NotificationKind } from './default-templates.js'
import type { TemplateFields } from './template.js'

export type Appliance = { deviceId: string; name: string }

const language = (locale: string) => locale.split('-')[0]
const wordsFor = (locale: string) => WORDS[language(locale)] ?? WORDS.en

/** "Washing machine WM-8" for each device: its type's name and model. */
export async function loadAppliances(database: Database, deviceIds: (string | null)[]): Promise<Map<string, Appliance>> {
  const ids = [...new Set(deviceIds.filter((d): d is string => d !== null))]
  if (ids.length === 0) return new Map()
  const rows = await database.db.select({ id: devices.id, model: devices.model, typeName: deviceTypes.name })
    .from(devices).innerJoin(deviceTypes, eq(deviceTypes.id, devices.typeId)).where(inArray(devices.id, ids))
  return new Map(rows.map((r) => [r.id, { deviceId: r.id, name: [r.typeName, r.model].filter(Boolean).join(' ') }]))
}

/** A date and time as the customer reads it: their language, their timezone. */
export function formatLocal(iso: string | null, locale: string, timeZone: string): string | null {
  if (!iso) return null
  const options = { dateStyle: 'medium', timeStyle: 'short' } as const
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(new Date(iso))
  } catch {
    return new Intl.DateTimeFormat('en', { ...options, timeZone: 'UTC' }).format(new Date(iso)) + ' UTC'
  }
}

type Context = { customerName: string; locale: string; timeZone: string; unsubscribeUrl: string | null }

function ticketFacts(ticket: TicketJson, appliance: Appliance | undefined, ctx: Context) {
  return {
    appliance: appliance?.name ?? (language(ctx.locale) === 'zh' ? '电器' : 'appliance'),
    deviceId: ticket.deviceId,
    problem: ticket.title,
    reference: ticket.externalId ?? ticket.id,
    ticketId: ticket.id,
    appointment: formatLocal(ticket.appointmentAt, ctx.locale, ctx.timeZone),
  }
}

/** The fields a ticket message's template can use (see `fieldsOf`). */
export function ticketFields(ticket: TicketJson, appliance: Appliance | undefined, ctx: Context): TemplateFields {
  const words = wordsFor(ctx.locale)
  return {
    ...ticketFacts(ticket, appliance, ctx),
    customerName: ctx.customerName,
    severity: ticket.severity,
    critical: ticket.severity === 'critical',
    status: ticket.status,
    technician: ticket.technician,
    outcome: ticket.outcome ? words.outcome[ticket.outcome] ?? ticket.outcome : null,
    escalationLevel: ticket.escalationLevel,
    detectedAt: formatLocal(ticket.detectedAt, ctx.locale, ctx.timeZone),
    unsubscribeUrl: ctx.unsubscribeUrl,
  }
}

/** The fields of a digest: one item per message it stands for. */
export function digestFields(items: { kind: string; ticket: TicketJson; createdAt: Date }[], appliances: Map<string, Appliance>, ctx: Context): TemplateFields {
  const words = wordsFor(ctx.locale)
  return {
    customerName: ctx.customerName,
    count: items.length,
    unsubscribeUrl: ctx.unsubscribeUrl,
    items: items.map((i) => ({
      ...ticketFacts(i.ticket, i.ticket.deviceId ? appliances.get(i.ticket.deviceId) : undefined, ctx),
      event: words.event[i.kind as NotificationKind] ?? i.kind,
      at: formatLocal(i.createdAt.toISOString(), ctx.locale, ctx.timeZone),
    })),
  }
}
