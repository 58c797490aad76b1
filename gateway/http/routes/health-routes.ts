import { sql } from 'drizzle-orm'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Database } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'

/**
 * `isReady`: started. `brokerConnected`: with an external broker, whether the subscriber is
 * connected to it (readings cannot arrive otherwise); with the embedded one, false only once a
 * broker thread has stopped (MQTT_BROKER_THREAD).
 */
export const healthRoutes: FastifyPluginAsyncZod<{ database: Database; metrics: Metrics; isReady(): boolean; brokerConnected(): boolean }> = async (app, opts) => {
  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }))
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    if (!opts.isReady()) return reply.status(503).send({ status: 'starting' })
    if (!opts.brokerConnected()) return reply.status(503).send({ status: 'broker unavailable' })
    try {
      await opts.database.query(sql`select 1`)
      return { status: 'ready', database: opts.database.kind }
    } catch {
      return reply.status(503).send({ status: 'database unavailable' })
    }
  })
  // `?name=a&name=b` answers only those metrics (as node_exporter's `collect[]` does): a counter
  // read without waiting for the KPI gauges, whose queries queue behind a busy database.
  app.get('/metrics', { schema: { hide: true, querystring: z.object({ name: z.union([z.string(), z.array(z.string())]).optional() }) } }, async (req, reply) => {
    const { registry } = opts.metrics
    await opts.metrics.scraping()
    const names = req.query.name === undefined ? undefined : [req.query.name].flat()
    const body = names === undefined ? await registry.metrics()
      : (await Promise.all(names.filter((n) => registry.getSingleMetric(n)).map((n) => registry.getSingleMetricAsString(n)))).join('\n')
    return reply.type(registry.contentType).send(body)
  })
}
