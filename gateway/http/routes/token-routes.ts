import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ROLES, type TokenStore } from '../token-store.js'

const ADMIN = ['admin'] as const

export const tokenRoutes: FastifyPluginAsyncZod<{ tokens: TokenStore }> = async (app, { tokens }) => {
  app.post('/tokens', {
    config: { roles: ADMIN },
    schema: { tags: ['tokens'], summary: 'Issue an API token; the response carries it, shown only this once', body: z.strictObject({ name: z.string().min(1).max(100), role: z.enum(ROLES) }) },
  }, async (req, reply) => reply.status(201).send(await tokens.issue(req.body)))
  app.get('/tokens', { config: { roles: ADMIN }, schema: { tags: ['tokens'] } }, () => tokens.list())
  app.delete('/tokens/:id', {
    config: { roles: ADMIN }, schema: { tags: ['tokens'], summary: 'Revoke a token', params: z.object({ id: z.string() }) },
  }, async (req, reply) => {
    await tokens.revoke(req.params.id)
    return reply.status(204).send()
  })
}
