import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Config } from '../../config/load-config.js'
import type { Database } from '../../db/database.js'
import { PrecallError } from '../../errors.js'
import { loadAgentContext } from '../../insight/agent-context.js'
import { KPI_GROUPS, computeKpis } from '../../insight/kpis.js'
import { readRollups } from '../../retention/rollups.js'

const DAY_MS = 86_400_000
// ISO instants, or plain dates meaning midnight UTC.
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).optional()
/** The period a query names: up to `to` (default now), from `from` (default `days` before `to`). */
function period(q: { from?: string; to?: string }, now: number, days: number): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : new Date(now)
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - days * DAY_MS)
  if (from >= to) throw new PrecallError('VALIDATION', `from (${from.toISOString()}) must be before to (${to.toISOString()})`)
  return { from, to }
}

const contextQuery = z.object({ days: z.coerce.number().int().min(1).max(3650).default(90) })

export const insightRoutes: FastifyPluginAsyncZod<{ database: Database; policy: Config['tickets']; now?: () => number }> = async (app, { database, policy, now = Date.now }) => {
  const context = { config: { roles: ['admin', 'ops', 'crm', 'viewer'] as const } }
  app.get('/customers/:id/context', {
    ...context,
    schema: { tags: ['insight'], summary: 'What an agent needs on screen when this customer calls', params: z.object({ id: z.string() }), querystring: contextQuery },
  }, (req) => loadAgentContext(database, policy, { customerId: req.params.id }, { days: req.query.days, now: now() }))
  app.get('/devices/:id/context', {
    ...context,
    schema: { tags: ['insight'], summary: 'What an agent needs on screen when a call is about this appliance', params: z.object({ id: z.string() }), querystring: contextQuery },
  }, (req) => loadAgentContext(database, policy, { deviceId: req.params.id }, { days: req.query.days, now: now() }))
  app.get('/devices/:id/rollups', {
    config: { roles: ['admin', 'ops', 'viewer'] },
    schema: {
      tags: ['insight'],
      summary: 'A device\'s hourly figures per telemetry metric (count, min, max, mean, standard deviation), kept long after its raw readings (ROLLUPS_RETENTION_DAYS)',
      params: z.object({ id: z.string() }),
      querystring: z.object({ metric: z.string().min(1).max(64).optional(), from: instant, to: instant, limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
    },
  }, async (req) => {
    const { from, to } = period(req.query, now(), 7)
    const hours = await readRollups(database, { deviceId: req.params.id, metric: req.query.metric, from, to, limit: req.query.limit })
    if (!hours) throw new PrecallError('NOT_FOUND', `device ${req.params.id} is not registered`)
    return { deviceId: req.params.id, from: from.toISOString(), to: to.toISOString(), hours }
  })
  app.get('/kpis', {
    config: { roles: ['admin', 'ops', 'viewer'] },
    schema: {
      tags: ['insight'],
      summary: 'Service KPIs for a period, overall and per rule, problem or device type; `definitions` says what each counts',
      querystring: z.object({
        from: instant,
        to: instant,
        groupBy: z.enum(KPI_GROUPS).optional(),
      }),
    },
  }, (req) => {
    const { from, to } = period(req.query, now(), 30)
    return computeKpis(database, { from, to, groupBy: req.query.groupBy })
  })
}
