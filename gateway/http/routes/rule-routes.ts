import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { RuleStore } from '../../detect/rule-store.js'

const WRITE = ['admin', 'ops'] as const
const READ = ['admin', 'ops', 'crm', 'viewer'] as const
// The rule language validates the document itself and reports every problem with its path.
const ruleDocument = z.record(z.string(), z.unknown()).describe('A rule document; see DESIGN.md "Rule documents"')

export const ruleRoutes: FastifyPluginAsyncZod<{ rules: RuleStore; onChange(): Promise<void> }> = async (app, { rules, onChange }) => {
  app.post('/rules', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Save a rule as a new version and make it active', body: ruleDocument },
  }, async (req, reply) => {
    const stored = await rules.save(req.body, req.principal?.name ?? null)
    await onChange()
    return reply.status(201).send(stored)
  })
  app.post('/rules/validate', {
    config: { roles: WRITE },
    schema: { tags: ['rules'], summary: 'Check a rule document without saving it', body: ruleDocument },
  }, (req) => rules.validate(req.body))
  app.get('/rules', { config: { roles: READ }, schema: { tags: ['rules'] } }, () => rules.list())
  app.get('/rules/:id', { config: { roles: READ }, schema: { tags: ['rules'], params: z.object({ id: z.string() }) } }, (req) => rules.get(req.params.id))
}
