import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { newWebhookSecret, signWebhook } from '../../gateway/outbox/sign.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'

describe('signWebhook', () => {
  it('matches the Standard Webhooks known answer', () => {
    expect(signWebhook({ secrets: [SECRET], id: ID, timestamp: 1674087231, body: '{"test": 2432232314}' }))
      .toBe('v1,AQG81rX2n4rTN1fkXoqILSHO9gAOcwya9dP41rhrQDI=')
  })

  it('is accepted by the reference verifier, for every secret during a rotation', () => {
    const secrets = [newWebhookSecret(), newWebhookSecret()]
    const timestamp = Math.floor(Date.now() / 1000)
    const body = JSON.stringify({ type: 'ticket.opened', data: { ticket: { id: 't-1', title: 'Drain pump — 排水泵' } } })
    const signature = signWebhook({ secrets, id: ID, timestamp, body })
    expect(signature.split(' ')).toHaveLength(2)
    const headers = { 'webhook-id': ID, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature }
    for (const secret of secrets) expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: 'ticket.opened' })
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow()
    expect(() => new Webhook(secrets[0]).verify(body.replace('t-1', 't-2'), headers)).toThrow()
  })

  it('agrees with the reference signer', () => {
    const secret = newWebhookSecret()
    const at = new Date(1_700_000_000_000)
    expect(signWebhook({ secrets: [secret], id: ID, timestamp: 1_700_000_000, body: '{}' })).toBe(new Webhook(secret).sign(ID, at, '{}'))
  })
})

describe('newWebhookSecret', () => {
  it('is whsec_ and 24 random bytes in base64', () => {
    const a = newWebhookSecret()
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(24)
    expect(newWebhookSecret()).not.toBe(a)
  })
})
