import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { backtestInput, type createBacktester } from '../../detect/backtest.js'
import type { DetectionLog } from '../../detect/detection-log.js'
import type { RuleStore } from '../../detect/rule-store.js'

const WRITE = ['admin', 'ops'] as const
const READ = ['admin', 'ops', 'crm', 'viewer'] as const
// The rule language validates the document itself and reports every problem with its path.
const ruleDocument = z.record(z.string(), z.unknown()).describe('A rule document; see README "Rule documents"')
const idParams = z.object({ id: z.string() })
const period = { from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() }

export const ruleRoutes: FastifyPluginAsyncZod<{ rules: RuleStore; detections: DetectionLog; backtester: ReturnType<typeof createBacktester>; onChange(): Promise<void> }> = async (app, { rules, detections, backtester, onChange }) => {
  app.post('/rules', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Save a rule as a new version: active/disabled documents become active, shadow documents run beside it', body: ruleDocument },
  }, async (req, reply) => {
    const stored = await rules.save(req.body, req.principal?.name ?? null)
    await onChange()
    return reply.status(201).send(stored)
  })
  app.post('/rules/validate', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Check a rule document without saving it', body: ruleDocument },
  }, (req) => rules.validate(req.body))
  app.post('/rules/backtest', {
    config: { roles: WRITE },
    schema: {
      tags: ['rules'],
      summary: 'Replay stored readings through draft or stored rules: detections, would-be tickets, precision and lead time against real outcomes',
      body: backtestInput,
    },
  }, (req) => backtester.run(req.body))
  app.get('/rules', { config: { roles: READ }, schema: { tags: ['rules'] } }, () => rules.list())
  app.get('/rules/:id', { config: { roles: READ }, schema: { tags: ['rules'], summary: 'A rule with its version list', params: idParams } }, (req) => rules.get(req.params.id))
  app.get('/rules/:id/diff', {
    config: { roles: READ },
    schema: { tags: ['rules'], summary: 'What changed between two versions, as JSON paths', params: idParams, querystring: z.object({ from: z.coerce.number().int().positive(), to: z.coerce.number().int().positive() }) },
  }, (req) => rules.diff(req.params.id, req.query.from, req.query.to))
  app.post('/rules/:id/activate', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Make a version the active one (promote a shadow version, or return to an earlier one)', params: idParams, body: z.strictObject({ version: z.number().int().positive() }) },
  }, async (req) => {
    const stored = await rules.activate(req.params.id, req.body.version)
    await onChange()
    return stored
  })
  app.post('/rules/:id/rollback', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Return to the version that was active before the current one', params: idParams },
  }, async (req) => {
    const stored = await rules.rollback(req.params.id)
    await onChange()
    return stored
  })
  app.delete('/rules/:id/shadow', {
    config: { roles: WRITE }, schema: { tags: ['rules'], summary: 'Stop running the shadow version', params: idParams },
  }, async (req, reply) => {
    await rules.stopShadow(req.params.id)
    await onChange()
    return reply.status(204).send()
  })
  app.get('/rules/:id/compare', {
    config: { roles: READ },
    schema: { tags: ['rules'], summary: 'Detections per version over a period: a shadow version against the active one on the same live data', params: idParams, querystring: z.object(period) },
  }, (req) => detections.compare(req.params.id, req.query.from, req.query.to))
  app.get('/detections', {
    config: { roles: READ },
    schema: {
      tags: ['rules'],
      summary: 'Detections, active and shadow, newest first (by event time)',
      querystring: z.object({
        ruleId: z.string().optional(), ruleVersion: z.coerce.number().int().positive().optional(), mode: z.enum(['active', 'shadow']).optional(),
        deviceId: z.string().optional(), ...period, limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
  }, (req) => detections.list(req.query))
}
