import { describe, expect, it } from 'vitest'
import { providersEnv, quietHoursEnv } from '../../gateway/notify/notify-config.js'
import type { DeliveryResult } from '../../gateway/outbox/deliver-webhook.js'
import { classifyProviderAnswer, fill } from '../../gateway/notify/channels/provider-channel.js'

describe('notification settings from the environment', () => {
  it('reads quiet hours as a window or "off", and refuses anything else', () => {
    expect(quietHoursEnv.parse('21:00-08:00')).toMatchObject({ start: '21:00', end: '08:00', startMin: 1260, endMin: 480 })
    expect(quietHoursEnv.parse('off')).toBeNull()
    expect(quietHoursEnv.safeParse('21-8').error?.issues[0].message).toContain('"HH:MM-HH:MM"')
  })

  it('reads providers per channel and refuses a body naming an unknown placeholder', () => {
    const providers = providersEnv.parse(JSON.stringify({
      sms: { url: 'https://sms.example.com/send', authHeader: 'Authorization: Bearer k', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', body: { phone: '{{to}}', content: '{{text}}' } },
      wechat: { url: 'https://wx.example.com/msg', idField: 'data.msgid' },
    }))
    expect(providers.sms).toMatchObject({ idField: 'id', body: { phone: '{{to}}', content: '{{text}}' } })
    expect(providers.wechat?.body).toMatchObject({ to: '{{to}}', text: '{{text}}' })
    const bad = providersEnv.safeParse(JSON.stringify({ sms: { url: 'https://x.example.com', body: { to: '{{phone}}' } } }))
    expect(bad.success).toBe(false)
    expect(providersEnv.safeParse(JSON.stringify({ fax: { url: 'https://x.example.com' } })).success).toBe(false)
    expect(providersEnv.safeParse('{').error?.issues[0].message).toContain('expected JSON')
  })

  it('fills a provider body template, keeping the type of a value that is a whole string', () => {
    expect(fill({ to: '{{to}}', msg: 'Ref {{ticketId}}: {{text}}', flags: ['{{urgent}}'], n: 1 }, { to: '+86 1', ticketId: null, text: 'a "quoted" word', urgent: true }))
      .toEqual({ to: '+86 1', msg: 'Ref : a "quoted" word', flags: [true], n: 1 })
  })

  it('reads the provider\'s message id from its answer, and tells a refused message from a passing failure', () => {
    const delivered = (body?: string) => ({ outcome: 'delivered', statusCode: 200, ...(body === undefined ? {} : { body }) }) as DeliveryResult
    expect(classifyProviderAnswer(delivered('{"data":{"msgid":12345}}'), 'data.msgid')).toEqual({ outcome: 'sent', statusCode: 200, providerMessageId: '12345' })
    expect(classifyProviderAnswer(delivered('not json'), 'id')).toMatchObject({ outcome: 'sent', providerMessageId: null })
    expect(classifyProviderAnswer(delivered(), 'id')).toMatchObject({ outcome: 'sent', providerMessageId: null })
    expect(classifyProviderAnswer({ outcome: 'retry', statusCode: 400, error: 'HTTP 400: invalid number' }, 'id')).toMatchObject({ outcome: 'give_up' })
    expect(classifyProviderAnswer({ outcome: 'retry', statusCode: 429, error: 'HTTP 429' }, 'id')).toMatchObject({ outcome: 'retry' })
    expect(classifyProviderAnswer({ outcome: 'retry', error: 'timed out after 10 ms' }, 'id')).toMatchObject({ outcome: 'retry' })
    expect(classifyProviderAnswer({ outcome: 'gone', statusCode: 410 }, 'id')).toMatchObject({ outcome: 'give_up' })
  })
})
