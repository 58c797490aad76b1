import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PrecallError } from '../../errors.js'
import type { TicketStore } from '../../tickets/ticket-store.js'

const READ = ['admin', 'ops', 'crm', 'viewer'] as const

export const ticketRoutes: FastifyPluginAsyncZod<{ tickets: TicketStore }> = async (app, { tickets }) => {
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
}
