import { sql } from 'drizzle-orm'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Database } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'

export const healthRoutes: FastifyPluginAsyncZod<{ database: Database; metrics: Metrics; isReady(): boolean }> = async (app, opts) => {
  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }))
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    if (!opts.isReady()) return reply.status(503).send({ status: 'starting' })
    try {
      await opts.database.query(sql`select 1`)
      return { status: 'ready', database: opts.database.kind }
    } catch {
      return reply.status(503).send({ status: 'database unavailable' })
    }
  })
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()))
}
