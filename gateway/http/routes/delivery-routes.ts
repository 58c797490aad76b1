import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PrecallError } from '../../errors.js'
import type { OutboxStore } from '../../outbox/outbox-store.js'

const READ = ['admin', 'ops', 'crm', 'viewer'] as const
const idParams = z.object({ id: z.coerce.number().int().positive() })

export const deliveryRoutes: FastifyPluginAsyncZod<{ outbox: OutboxStore; onReplay(): void }> = async (app, { outbox, onReplay }) => {
  app.get('/deliveries', {
    config: { roles: READ },
    schema: {
      tags: ['deliveries'],
      summary: 'Webhook deliveries with their attempt log, newest first',
      querystring: z.object({
        status: z.enum(['pending', 'delivered', 'dead', 'cancelled']).optional(),
        subscriptionId: z.string().optional(),
        ticketId: z.string().optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      }),
    },
  }, (req) => outbox.listDeliveries(req.query))
  app.get('/deliveries/:id', { config: { roles: READ }, schema: { tags: ['deliveries'], params: idParams } }, async (req) => {
    const found = await outbox.getDelivery(req.params.id)
    if (!found) throw new PrecallError('NOT_FOUND', `delivery ${req.params.id} not found`)
    return found
  })
  app.post('/deliveries/:id/replay', {
    config: { roles: ['admin', 'ops', 'crm'] },
    schema: { tags: ['deliveries'], summary: 'Send a dead or delivered message again, with the same webhook-id', params: idParams },
  }, async (req) => {
    const replayed = await outbox.replayDelivery(req.params.id)
    onReplay()
    return replayed
  })
}
