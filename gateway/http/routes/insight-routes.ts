import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Config } from '../../config/load-config.js'
import type { Database } from '../../db/database.js'
import { PrecallError } from '../../errors.js'
import { loadAgentContext } from '../../insight/agent-context.js'
import { KPI_GROUPS, computeKpis } from '../../insight/kpis.js'

const DAY_MS = 86_400_000
// ISO instants, or plain dates meaning midnight UTC.
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).optional()
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
    const to = req.query.to ? new Date(req.query.to) : new Date(now())
    const from = req.query.from ? new Date(req.query.from) : new Date(to.getTime() - 30 * DAY_MS)
    if (from >= to) throw new PrecallError('VALIDATION', `from (${from.toISOString()}) must be before to (${to.toISOString()})`)
    return computeKpis(database, { from, to, groupBy: req.query.groupBy })
  })
}
