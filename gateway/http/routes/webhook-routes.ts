import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PrecallError } from '../../errors.js'
import { WEBHOOK_EVENTS, type SubscriptionStore } from '../../outbox/subscription-store.js'

const MANAGE = ['admin', 'crm'] as const
const READ = ['admin', 'ops', 'crm', 'viewer'] as const
const idParams = z.object({ id: z.string() })

export const webhookRoutes: FastifyPluginAsyncZod<{ subscriptions: SubscriptionStore }> = async (app, { subscriptions }) => {
  app.post('/webhooks', {
    config: { roles: MANAGE },
    schema: {
      tags: ['webhooks'],
      summary: 'Subscribe a CRM endpoint; the response carries its whsec_ signing secret, shown only this once',
      body: z.strictObject({
        url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
        events: z.array(z.enum([...WEBHOOK_EVENTS, '*'])).min(1),
        description: z.string().max(200).optional(),
      }),
    },
  }, async (req, reply) => {
    const { subscription, secret } = await subscriptions.create(req.body)
    return reply.status(201).send({ id: subscription.id, secret, subscription })
  })
  app.get('/webhooks', { config: { roles: READ }, schema: { tags: ['webhooks'] } }, () => subscriptions.list())
  app.get('/webhooks/:id', { config: { roles: READ }, schema: { tags: ['webhooks'], params: idParams } }, async (req) => {
    const found = await subscriptions.get(req.params.id)
    if (!found) throw new PrecallError('NOT_FOUND', `webhook subscription ${req.params.id} not found`)
    return found
  })
  app.delete('/webhooks/:id', {
    config: { roles: MANAGE }, schema: { tags: ['webhooks'], summary: 'Disable a subscription (history is kept)', params: idParams },
  }, async (req, reply) => {
    await subscriptions.remove(req.params.id)
    return reply.status(204).send()
  })
  app.post('/webhooks/:id/enable', { config: { roles: MANAGE }, schema: { tags: ['webhooks'], params: idParams } }, async (req) => {
    await subscriptions.enable(req.params.id)
    return subscriptions.get(req.params.id)
  })
  app.post('/webhooks/:id/rotate-secret', {
    config: { roles: MANAGE },
    schema: {
      tags: ['webhooks'],
      summary: 'New signing secret; the old one keeps signing alongside for keepOldForMs (default 24 h)',
      params: idParams,
      body: z.strictObject({ keepOldForMs: z.number().int().min(0).max(7 * 86_400_000).optional() }).nullish(),
    },
  }, (req) => subscriptions.rotateSecret(req.params.id, req.body ?? {}))
}
