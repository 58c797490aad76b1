import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Config } from '../config/load-config.js'
import type { Database, Tx } from '../db/database.js'
import { newId } from '../db/ids.js'
import { OPEN_TICKET, contacts, customers, devices, tickets } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { OPEN_STATUSES } from './lifecycle.js'
import { escalationDueAt, slaDueAt, ticketTransaction, type OutboxLink } from './ticket-change.js'
import { toTicketJson } from './ticket-json.js'
import { ticketTerms } from './ticket-policy.js'

export const contactInput = z.strictObject({
  customerId: z.string().min(1).optional(),
  deviceId: z.string().min(1).optional(),
  serial: z.string().min(1).optional(),
  channel: z.enum(['phone', 'chat', 'email', 'app', 'wechat', 'social', 'other']),
  reason: z.string().min(1).max(4000),
  problem: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a problem slug such as "drain-pump"').optional(),
}).refine((c) => c.customerId || c.deviceId || c.serial, { message: 'name the customer (customerId) or the appliance (deviceId or serial)' })

const COMPLAINT_PROBLEM = 'customer-contact'

/**
 * A customer called, chatted or wrote. If a ticket is already open for their appliance the contact
 * is linked to it — the agent already knows why they call; otherwise it opens a complaint. The
 * same unique indexes that stop duplicate detections stop a contact from duplicating a ticket.
 */
export function createContactIntake(opts: { database: Database; metrics: Metrics; policy: Config['tickets']; now?: () => number } & OutboxLink) {
  const { database, policy } = opts
  const now = opts.now ?? Date.now

  async function resolveParties(tx: Tx, c: z.output<typeof contactInput>) {
    const where = c.deviceId ? eq(devices.id, c.deviceId) : c.serial ? eq(devices.serial, c.serial) : undefined
    const [device] = where ? await tx.select().from(devices).where(where) : []
    if (where && !device) throw new PrecallError('NOT_FOUND', c.deviceId ? `device ${c.deviceId} does not exist` : `no device has serial ${c.serial}`)
    const customerId = c.customerId ?? device?.customerId ?? null
    const [customer] = customerId ? await tx.select().from(customers).where(eq(customers.id, customerId)) : []
    if (customerId && !customer) throw new PrecallError('NOT_FOUND', `customer ${customerId} does not exist`)
    return { device, customer }
  }

  async function openTicketFor(tx: Tx, deviceIds: string[], customerId: string | null, problem: string | undefined) {
    const scope = deviceIds.length ? inArray(tickets.deviceId, deviceIds) : and(isNull(tickets.deviceId), eq(tickets.customerId, customerId ?? ''))
    const [found] = await tx.select().from(tickets)
      .where(and(scope, inArray(tickets.status, [...OPEN_STATUSES]), problem ? eq(tickets.problem, problem) : undefined))
      .orderBy(tickets.priority, desc(tickets.openedAt)).limit(1).for('update')
    return found
  }

  async function record(input: z.output<typeof contactInput>, actor: string) {
    const at = new Date(now())
    const result = await ticketTransaction(database, opts, at, async (tx, record, alongside) => {
      const { device, customer } = await resolveParties(tx, input)
      const deviceIds = device ? [device.id] : customer
        ? (await tx.select({ id: devices.id }).from(devices).where(eq(devices.customerId, customer.id))).map((d) => d.id)
        : []
      let ticket = await openTicketFor(tx, deviceIds, customer?.id ?? null, input.problem)
      let linkage: 'known_problem' | 'new_complaint' = 'known_problem'
      if (!ticket) {
        const problem = input.problem ?? COMPLAINT_PROBLEM
        const terms = ticketTerms({ severity: 'minor', type: 'complaint', customerTags: customer?.tags ?? [], repeat: false, slaMs: policy.slaMs, tagPolicy: policy.tagPolicy })
        const opening = { openedAt: at, slaMs: terms.slaMs, slaPausedMs: 0 }
        const tz = customer?.timezone ?? 'UTC'
        const [inserted] = await tx.insert(tickets).values({
          id: newId('tkt', at.getTime()), deviceId: device?.id ?? null, customerId: customer?.id ?? null, problem, type: 'complaint', source: 'contact',
          title: `Customer contact: ${input.reason.slice(0, 80)}`, severity: 'minor', priority: terms.priority, detectedAt: at, lastDetectedAt: at,
          evidence: { kind: 'contact', channel: input.channel, reason: input.reason }, ...opening, updatedAt: at,
          slaDueAt: slaDueAt(opening, policy, tz), nextEscalationAt: escalationDueAt(opening, 1, policy, tz),
        }).onConflictDoNothing({ target: device ? [tickets.deviceId, tickets.problem] : [tickets.customerId, tickets.problem], where: device ? OPEN_TICKET : sql`device_id is null and ${OPEN_TICKET}` })
          .returning()
        // Lost a race with a detection or another contact: link to the ticket that won.
        ticket = inserted ?? await openTicketFor(tx, deviceIds, customer?.id ?? null, problem)
        if (inserted) {
          linkage = 'new_complaint'
          // Its writes and the contact's go out together, with COMMIT (see ticketTransaction).
          record({ ticket: inserted, at, actor, action: 'opened', changes: { channel: input.channel }, comment: input.reason, event: 'ticket.opened' })
        }
      }
      const id = newId('cnt', at.getTime())
      alongside(tx.insert(contacts).values({
        id, customerId: customer?.id ?? null, deviceId: device?.id ?? ticket.deviceId, channel: input.channel, reason: input.reason,
        problem: input.problem ?? null, ticketId: ticket.id, linkage, createdBy: actor, createdAt: at,
      }))
      if (linkage === 'known_problem') {
        record({ ticket, at, actor, action: 'contact', changes: { channel: input.channel, contactId: id }, comment: input.reason, event: null })
      }
      return { contact: { id, linkage, channel: input.channel, createdAt: at.toISOString() }, ticket: toTicketJson(ticket) }
    })
    opts.metrics.contacts.inc({ linkage: result.contact.linkage })
    return result
  }

  return { record }
}

export type ContactIntake = ReturnType<typeof createContactIntake>
