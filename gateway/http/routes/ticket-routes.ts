import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PrecallError } from '../../errors.js'
import { contactInput, type ContactIntake } from '../../tickets/contact-intake.js'
import { ticketPatchSchema } from '../../tickets/lifecycle.js'
import type { TicketStore } from '../../tickets/ticket-store.js'
import type { TicketUpdater } from '../../tickets/ticket-update.js'

const READ = ['admin', 'ops', 'crm', 'viewer'] as const

export const ticketRoutes: FastifyPluginAsyncZod<{ tickets: TicketStore; updater: TicketUpdater; contacts: ContactIntake }> = async (app, { tickets, updater, contacts }) => {
  app.get('/tickets', {
    config: { roles: READ },
    schema: {
      tags: ['tickets'],
      summary: 'Tickets, newest first; page with `before` = the last id of the previous page',
      querystring: z.object({
        deviceId: z.string().optional(), customerId: z.string().optional(), status: z.string().optional(), problem: z.string().optional(),
        before: z.string().optional(), limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    },
  }, (req) => tickets.list(req.query))
  app.get('/tickets/:id', {
    config: { roles: READ },
    schema: { tags: ['tickets'], summary: 'One ticket with its evidence and the detections behind it', params: z.object({ id: z.string() }) },
  }, async (req) => {
    const ticket = await tickets.get(req.params.id)
    if (!ticket) throw new PrecallError('NOT_FOUND', `ticket ${req.params.id} does not exist`)
    return ticket
  })
  app.patch('/tickets/:id', {
    config: { roles: ['admin', 'ops', 'crm'] },
    schema: {
      tags: ['tickets'],
      summary: 'Move a ticket along its lifecycle and record CRM facts; the same patch twice is one change',
      params: z.object({ id: z.string() }),
      body: ticketPatchSchema,
    },
  }, async (req) => {
    const { ticket, changed } = await updater.update(req.params.id, req.body, req.principal?.name ?? 'unknown')
    return { ...ticket, changed }
  })
  app.post('/contacts', {
    config: { roles: ['admin', 'ops', 'crm'] },
    schema: {
      tags: ['tickets'],
      summary: 'Record that a customer got in touch: linked to the open ticket if there is one, else a complaint ticket opens',
      body: contactInput,
    },
  }, async (req, reply) => {
    const result = await contacts.record(req.body, req.principal?.name ?? 'unknown')
    return reply.status(result.contact.linkage === 'new_complaint' ? 201 : 200).send(result)
  })
}
