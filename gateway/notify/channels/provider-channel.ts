import type { Dispatcher } from 'undici'
import { deliverWebhook, type DeliveryResult } from '../../outbox/deliver-webhook.js'
import { signWebhook } from '../../outbox/sign.js'
import type { ProviderConfig } from '../notify-config.js'
import type { ChannelAdapter, OutgoingMessage, SendResult } from './channel.js'

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g
const WHOLE = /^\{\{\s*([A-Za-z]+)\s*\}\}$/

/**
 * A provider's HTTP API (SMS gateway, push service, WeChat): the configured JSON body, signed like
 * our webhooks (Standard Webhooks headers, `webhook-id` = our message id, which providers also get
 * as `idempotency-key`), POSTed with the same client as CRM webhooks: no redirects, private
 * addresses refused unless allowed, one timeout for the whole exchange.
 */
export function createProviderChannel(opts: {
  channel: string
  provider: ProviderConfig
  agent: Dispatcher
  timeoutMs: number
  callbackUrl: string | null
  now: () => number
}): ChannelAdapter {
  const { provider } = opts
  const auth = provider.authHeader ? splitHeader(provider.authHeader) : undefined

  return {
    async send(m: OutgoingMessage): Promise<SendResult> {
      const values: Record<string, unknown> = {
        to: m.address, subject: m.subject, text: m.body, messageId: m.messageId, customerId: m.customerId, ticketId: m.ticketId,
        kind: m.kind, locale: m.locale, channel: opts.channel, urgent: m.urgent, callbackUrl: opts.callbackUrl,
      }
      const body = JSON.stringify(fill(provider.body, values))
      const timestamp = Math.floor(opts.now() / 1000)
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'precall-notify/1',
        'idempotency-key': m.messageId,
        'webhook-id': m.messageId,
        'webhook-timestamp': String(timestamp),
        ...(provider.secret ? { 'webhook-signature': signWebhook({ secrets: [provider.secret], id: m.messageId, timestamp, body }) } : {}),
        ...(auth ? { [auth.name]: auth.value } : {}),
      }
      // returnBody: the provider's answer carries its message id.
      const request = { url: provider.url, headers, body, timeoutMs: opts.timeoutMs, dispatcher: opts.agent, now: opts.now, returnBody: true }
      const result = await deliverWebhook(request)
      return classifyProviderAnswer(result, provider.idField)
    },
    async close() {},
  }
}

/** What a provider's answer means for this message; its id is read from the JSON answer at `idField`. */
export function classifyProviderAnswer(result: DeliveryResult, idField: string): SendResult {
  switch (result.outcome) {
    case 'delivered': {
      const answer = (result as { body?: string }).body
      return { outcome: 'sent', statusCode: result.statusCode, providerMessageId: answer ? pick(answer, idField) : null }
    }
    case 'gone': return { outcome: 'give_up', statusCode: 410, error: 'provider answered 410 Gone' }
    case 'give_up': return { outcome: 'give_up', statusCode: result.statusCode, error: result.error }
    case 'retry': {
      // A 4xx is the provider refusing this message (bad number, unknown user): sending it again won't help.
      const code = result.statusCode ?? 0
      const refused = code >= 400 && code < 500 && code !== 408 && code !== 425 && code !== 429
      return { outcome: refused ? 'give_up' : 'retry', statusCode: result.statusCode, error: result.error }
    }
  }
}

/** Fills `{{placeholders}}` in every string of the body template; a string that is only a placeholder takes the value as is. */
export function fill(template: unknown, values: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template)
    if (whole) return values[whole[1]] ?? null
    return template.replace(PLACEHOLDER, (_, name: string) => (values[name] === null || values[name] === undefined ? '' : String(values[name])))
  }
  if (Array.isArray(template)) return template.map((v) => fill(v, values))
  if (template && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fill(v, values)]))
  return template
}

function pick(json: string, path: string): string | null {
  try {
    let value: unknown = JSON.parse(json)
    for (const key of path.split('.')) value = (value as Record<string, unknown> | null)?.[key]
    return typeof value === 'string' || typeof value === 'number' ? String(value) : null
  } catch {
    return null
  }
}

function splitHeader(line: string) {
  const i = line.indexOf(':')
  return { name: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1).trim() }
}
