import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import {
  hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { ERRORS, PrecallError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Principal, Role, TokenStore } from './token-store.js'

declare module 'fastify' {
  interface FastifyContextConfig { roles?: readonly Role[] }
  interface FastifyRequest { principal?: Principal }
}

export type HttpApp = FastifyInstance & { withTypeProvider(): FastifyInstance }

/** Fastify with zod schemas, OpenAPI at /docs, bearer-token roles and one error handler. */
export async function createHttpServer(opts: { log: Logger; metrics: Metrics; tokens: TokenStore }) {
  const app = Fastify({ loggerInstance: opts.log.child({ component: 'http' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1_048_576 })
    .withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)

  await app.register(swagger, {
    openapi: {
      info: { title: 'precall', version: '1', description: 'Appliance telemetry in, service tickets and signed CRM webhooks out.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const roles = req.routeOptions.config.roles
    if (!roles) return
    const header = req.headers.authorization
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined
    if (!token) throw new PrecallError('UNAUTHENTICATED', 'send "Authorization: Bearer <token>"; an admin issues tokens with POST /api/v1/tokens')
    const principal = await opts.tokens.authenticate(token)
    if (!principal) throw new PrecallError('UNAUTHENTICATED', 'unknown or revoked token')
    if (!roles.includes(principal.role)) {
      throw new PrecallError('FORBIDDEN', `role ${principal.role} may not ${req.method} ${req.routeOptions.url}; allowed: ${roles.join(', ')}`)
    }
    req.principal = principal
  })

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const body = toErrorBody(error)
    opts.metrics.httpRefused.inc({ code: body.code })
    if (body.status >= 500) req.log.error({ err: error, url: req.url }, 'request failed')
    return reply.status(body.status).send({ code: body.code, message: body.message, ...(body.problems ? { problems: body.problems } : {}) })
  })
  app.setNotFoundHandler((req, reply) => {
    opts.metrics.httpRefused.inc({ code: ERRORS.NOT_FOUND.code })
    return reply.status(404).send({ code: ERRORS.NOT_FOUND.code, message: `no route ${req.method} ${req.url}; see /docs` })
  })
  return app
}

function toErrorBody(error: FastifyError): { status: number; code: string; message: string; problems?: unknown } {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const problems = error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'invalid',
    }))
    return { status: 400, code: ERRORS.VALIDATION.code, message: problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems }
  }
  if (error instanceof PrecallError) {
    const details = error.details as { problems?: unknown } | undefined
    return { status: error.statusCode, code: error.code, message: error.message, problems: details?.problems }
  }
  if (error.statusCode && error.statusCode < 500) {
    return { status: error.statusCode, code: error.code ?? ERRORS.VALIDATION.code, message: error.message }
  }
  return { status: 500, code: ERRORS.INTERNAL.code, message: 'internal error; the gateway log has the details' }
}
