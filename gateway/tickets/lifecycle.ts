import { z } from 'zod'
import type { TICKET_STATUSES } from '../db/schema.js'

export type TicketStatus = (typeof TICKET_STATUSES)[number]

export const OUTCOMES = ['fixed', 'no_fault_found', 'customer_declined', 'replaced'] as const
/** Set by the gateway itself, never by a CRM: the clear condition held and nobody was dispatched. */
export const SELF_CLEARED = 'self_cleared'

// open → acknowledged → dispatched → resolved → closed; reopened when the problem comes back
// before the ticket is closed. A dispatch can fall back to acknowledged (appointment cancelled).
const GRAPH: Record<TicketStatus, readonly TicketStatus[]> = {
  open: ['acknowledged', 'dispatched', 'resolved'],
  acknowledged: ['dispatched', 'resolved'],
  dispatched: ['acknowledged', 'resolved'],
  reopened: ['acknowledged', 'dispatched', 'resolved'],
  resolved: ['closed', 'reopened'],
  closed: [],
}

export const OPEN_STATUSES = ['open', 'acknowledged', 'dispatched', 'reopened'] as const satisfies readonly TicketStatus[]

export function allowedNext(from: TicketStatus): readonly TicketStatus[] {
  return GRAPH[from]
}

export const ticketPatchSchema = z.strictObject({
  status: z.enum(['acknowledged', 'dispatched', 'resolved', 'closed', 'reopened']).optional(),
  externalId: z.string().min(1).max(128).optional(),
  technician: z.string().min(1).max(200).optional(),
  appointmentAt: z.iso.datetime({ offset: true }).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  comment: z.string().min(1).max(4000).optional(),
  /** Pauses the SLA clock while waiting on the customer; false resumes it. */
  slaPaused: z.boolean().optional(),
}).refine((p) => Object.keys(p).length > 0, { message: 'send at least one field to change' })
export type TicketPatch = z.output<typeof ticketPatchSchema>

/** Why a patch can't apply to a ticket in `from`, or undefined when it can. */
export function refusePatch(from: TicketStatus, patch: TicketPatch, current: { outcome: string | null; appointmentAt: Date | null; technician: string | null }): string | undefined {
  const to = patch.status
  if (to && to !== from && !GRAPH[from].includes(to)) {
    const next = GRAPH[from]
    return `a ${from} ticket cannot become ${to}; ${next.length ? `it can become ${next.join(', ')}` : 'it is final'}`
  }
  const target = to ?? from
  if (target === 'resolved' && !(patch.outcome ?? current.outcome)) return `resolving needs an outcome: one of ${OUTCOMES.join(', ')}`
  if (patch.outcome && target !== 'resolved' && target !== 'closed') return 'an outcome can only be given with status resolved'
  if (target === 'dispatched' && !(patch.appointmentAt ?? current.appointmentAt) && !(patch.technician ?? current.technician)) {
    return 'dispatching needs a technician or an appointmentAt'
  }
  if (from === 'closed' && Object.keys(patch).some((k) => k !== 'comment' && k !== 'externalId')) return 'a closed ticket only takes comments and an externalId'
  return undefined
}
