import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Database } from '../../db/database.js'
import { PrecallError } from '../../errors.js'
import { NOTIFICATION_KINDS } from '../../notify/default-templates.js'
import { PROVIDER_CHANNELS } from '../../notify/notify-config.js'
import { notificationKpis } from '../../notify/notification-kpis.js'
import { NOTIFICATION_STATUSES } from '../../notify/notification-store.js'
import type { Notifier } from '../../notify/notifier.js'
import { preferencesInput } from '../../notify/preference-store.js'
import { verifyProviderSignature } from '../../notify/provider-signature.js'
import { localeSchema, templateChannelSchema, templateInput } from '../../notify/template-store.js'

const READ = ['admin', 'ops', 'crm', 'viewer'] as const
const MANAGE = ['admin', 'ops', 'crm'] as const
const EDIT_TEMPLATES = ['admin', 'ops'] as const
const DAY_MS = 86_400_000
const customerParams = z.object({ id: z.string().min(1).max(64) })
const idParams = z.object({ id: z.coerce.number().int().positive() })
const templateParams = z.object({ kind: z.enum(NOTIFICATION_KINDS), locale: localeSchema })
const channelQuery = z.object({ channel: templateChannelSchema.default('*') })
const actorOf = (req: FastifyRequest) => req.principal?.name ?? null

/** Customer notifications: preferences and consent, templates, delivery tracking, provider callbacks, unsubscribe. */
export const notifyRoutes: FastifyPluginAsyncZod<{ notifier: Notifier; database: Database; now?: () => number }> = async (app, { notifier, database, now = Date.now }) => {
  const { preferences, templates, messages } = notifier
  const publicPreferences = async (id: string) => {
    const { customer: _customer, ...prefs } = await preferences.get(id)
    return prefs
  }

  app.get('/customers/:id/preferences', { config: { roles: READ }, schema: { tags: ['notify'], params: customerParams } }, (req) => publicPreferences(req.params.id))
  app.post('/customers/:id/preferences', {
    config: { roles: MANAGE },
    schema: {
      tags: ['notify'],
      summary: 'Channels in order of preference with consent, quiet hours, daily cap; consent changes are logged',
      params: customerParams,
      body: preferencesInput,
    },
  }, async (req) => {
    await preferences.update(req.params.id, req.body, actorOf(req))
    return publicPreferences(req.params.id)
  })

  app.get('/notifications', {
    config: { roles: READ },
    schema: {
      tags: ['notify'],
      summary: 'Customer messages with their attempt log, newest first',
      querystring: z.object({
        status: z.enum(NOTIFICATION_STATUSES).optional(),
        customerId: z.string().optional(),
        ticketId: z.string().optional(),
        kind: z.enum(NOTIFICATION_KINDS).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      }),
    },
  }, (req) => messages.list(req.query))
  app.get('/notifications/dead-letters', {
    config: { roles: READ },
    schema: { tags: ['notify'], summary: 'Messages every channel failed to carry', querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
  }, (req) => messages.list({ status: 'failed', limit: req.query.limit }))
  app.get('/notifications/kpis', {
    config: { roles: READ },
    schema: {
      tags: ['notify'],
      summary: 'Reach rate and time from detection to first customer contact',
      querystring: z.object({ from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() }),
    },
  }, (req) => {
    const to = req.query.to ? new Date(req.query.to) : new Date(now())
    const from = req.query.from ? new Date(req.query.from) : new Date(to.getTime() - 30 * DAY_MS)
    return notificationKpis(database, { from, to })
  })
  app.get('/notifications/:id', { config: { roles: READ }, schema: { tags: ['notify'], params: idParams } }, async (req) => {
    const found = await messages.get(req.params.id)
    if (!found) throw new PrecallError('NOT_FOUND', `notification ${req.params.id} not found`)
    return found
  })
  app.post('/notifications/:id/replay', {
    config: { roles: ['admin', 'ops'] },
    schema: { tags: ['notify'], summary: 'Queue a failed or suppressed message again, under the same message id', params: idParams },
  }, async (req) => {
    const replayed = await messages.replay(req.params.id, actorOf(req))
    notifier.wake()
    return replayed
  })

  app.get('/notification-templates', { config: { roles: READ }, schema: { tags: ['notify'] } }, () => templates.list())
  app.get('/notification-templates/:kind/:locale', {
    config: { roles: READ }, schema: { tags: ['notify'], params: templateParams, querystring: channelQuery },
  }, (req) => templates.get(req.params.kind, req.params.locale, req.query.channel))
  app.put('/notification-templates/:kind/:locale', {
    config: { roles: EDIT_TEMPLATES },
    schema: {
      tags: ['notify'],
      summary: 'Store a template; one that names a field its kind does not have is refused',
      params: templateParams,
      querystring: channelQuery,
      body: templateInput,
    },
  }, (req) => templates.save({ ...req.params, channel: req.query.channel, ...req.body }, actorOf(req)))
  app.delete('/notification-templates/:kind/:locale', {
    config: { roles: EDIT_TEMPLATES }, schema: { tags: ['notify'], summary: 'Back to the built-in template', params: templateParams, querystring: channelQuery },
  }, async (req, reply) => {
    await templates.remove(req.params.kind, req.params.locale, req.query.channel)
    return reply.status(204).send()
  })

  await app.register(unsubscribeRoutes, { notifier })
  await app.register(providerCallbackRoutes, { notifier, now })
}

// The customer's side, without a token: GET shows a button, POST withdraws (RFC 8058 one-click
// POSTs `List-Unsubscribe=One-Click`). A GET never changes anything: link scanners follow links.
const unsubscribeRoutes: FastifyPluginAsyncZod<{ notifier: Notifier }> = async (app, { notifier }) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, _body, done) => done(null, {}))
  const params = z.object({ token: z.string().min(8).max(64) })
  const querystring = z.object({ channel: z.enum(['sms', 'email', 'push', 'wechat', 'mqtt']).optional() })
  app.get('/unsubscribe/:token', { schema: { tags: ['notify'], params, querystring } }, (req, reply) => {
    const what = req.query.channel ? `${req.query.channel} messages` : 'all messages'
    return reply.type('text/html; charset=utf-8').send(`<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>
<form method="post"><p>Stop ${what} about your appliances? / 不再接收服务消息？</p><button type="submit">Unsubscribe / 退订</button></form>`)
  })
  app.post('/unsubscribe/:token', { schema: { tags: ['notify'], params, querystring } }, async (req) => {
    const { withdrawn } = await notifier.preferences.unsubscribe(req.params.token, req.query.channel)
    return { unsubscribed: true, channels: withdrawn }
  })
}

/**
 * Providers report delivery (`/status`) and customers' replies (`/inbound`, STOP / 退订). Both are
 * signed with the channel's secret like our webhooks, over the exact bytes received.
 */
const providerCallbackRoutes: FastifyPluginAsyncZod<{ notifier: Notifier; now: () => number }> = async (app, { notifier, now }) => {
  const raw = new WeakMap<FastifyRequest, string>()
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    raw.set(req, body as string)
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(new PrecallError('VALIDATION', 'body is not valid JSON'), undefined)
    }
  })
  const params = z.object({ channel: z.enum(PROVIDER_CHANNELS) })
  const verify = (req: FastifyRequest, channel: (typeof PROVIDER_CHANNELS)[number]) => {
    const secret = notifier.providers[channel]?.secret
    if (!secret) throw new PrecallError('FORBIDDEN', `no secret is configured for the ${channel} provider, so its callbacks cannot be verified`)
    if (!verifyProviderSignature({ secret, headers: req.headers, body: raw.get(req) ?? '', now: now() })) {
      throw new PrecallError('UNAUTHENTICATED', 'missing, stale or wrong webhook-signature')
    }
  }

  app.post('/notify/providers/:channel/status', {
    schema: {
      tags: ['notify'],
      summary: 'Delivery report from a provider: delivered, or failed (the message falls over to the next channel)',
      params,
      body: z.object({
        messageId: z.string().optional(),
        providerMessageId: z.string().optional(),
        status: z.enum(['delivered', 'failed']),
        error: z.string().max(500).optional(),
      }),
    },
  }, async (req) => {
    verify(req, req.params.channel)
    const message = await notifier.messages.reportStatus(req.params.channel, req.body)
    if (message.status === 'queued') notifier.wake()
    return { id: message.id, messageId: message.messageId, status: message.status }
  })
  app.post('/notify/providers/:channel/inbound', {
    schema: { tags: ['notify'], summary: 'A customer\'s reply; STOP, TD or 退订 withdraws consent for that address', params, body: z.object({ from: z.string().min(1), text: z.string().max(2000) }) },
  }, async (req) => {
    verify(req, req.params.channel)
    return notifier.preferences.inboundReply(req.params.channel, req.body.from, req.body.text)
  })
}
