import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { newWebhookSecret } from '../../gateway/outbox/sign.js'
import { startReceiver, type Receiver } from '../outbox/receiver.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { startNotifyApi } from './api.js'
import { createNotifyHarness, okWithIds, type NotifyHarness } from './harness.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

const FAIL = Array.from({ length: 20 }, () => ({ status: 500, body: 'provider down' }))

describe.each(BACKENDS)('channels, consent and failover on %s', (backend) => {
  let database: Database
  let smtp: SmtpSink
  let h: NotifyHarness
  const receivers: Receiver[] = []
  const provider = async (script: Parameters<typeof startReceiver>[0]) => {
    const r = await startReceiver(script)
    receivers.push(r)
    return r
  }
  beforeAll(async () => {
    database = await openTestDatabase(backend)
    smtp = await startSmtpSink()
  })
  afterAll(async () => {
    await smtp.close()
    await database.close()
  })
  afterEach(async () => {
    await h.close()
    await Promise.all(receivers.splice(0).map((r) => r.close()))
  })

  it('skips a channel without consent and records it, falls over from a failing provider to e-mail', async () => {
    // Real time: the provider checks webhook-timestamp against its own clock. No quiet hours, whatever the hour.
    h = createNotifyHarness(database, { start: Date.now(), config: { quietHours: null } })
    const push = await provider(FAIL)
    const secret = newWebhookSecret()
    const c = await h.customer({
      channels: [
        { type: 'sms', address: '+8613800000001', consent: false },
        { type: 'push', address: 'app-token-1', consent: true },
        { type: 'email', address: 'failover@example.com', consent: true },
      ],
    })
    const notifier = h.notifier({ smtpUrl: smtp.url, providers: { push: { url: push.url, secret, authHeader: 'Authorization: Bearer push-key', body: { device: '{{to}}', alert: { title: '{{subject}}', body: '{{text}}' }, urgent: '{{urgent}}' }, idField: 'id' } } })
    await h.openTicket(c)

    expect(await notifier.runOnce()).toBe(1)
    const [message] = await notifier.messages.list({ customerId: c.customerId })
    expect(message).toMatchObject({ status: 'sent', channel: 'email', address: 'failover@example.com', rounds: 1 })
    expect(message.attemptLog.map((a) => [a.channel, a.outcome, a.error])).toEqual([
      ['sms', 'refused', 'no consent for sms'],
      ['push', 'retry', 'HTTP 500: provider down'],
      ['email', 'sent', null],
    ])
    expect(push.received).toHaveLength(1)
    const request = push.received[0]
    expect(request.headers.authorization).toBe('Bearer push-key')
    expect(request.headers['webhook-id']).toBe(message.messageId)
    expect(new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).toEqual({
      device: 'app-token-1', alert: { title: 'Washing machine WM-8: Drain pump clogging', body: expect.stringContaining('Drain pump clogging') }, urgent: false,
    })
    expect(smtp.to('failover@example.com')).toHaveLength(1)
    expect(smtp.to('+8613800000001')).toHaveLength(0)

    // Nothing is sent twice: the next pass finds nothing to do.
    expect(await notifier.runOnce()).toBe(0)
  })

  it('dead-letters a message every channel fails, visible through the API, and replays it', async () => {
    h = createNotifyHarness(database, { start: Date.now(), config: { quietHours: null } })
    const sms = await provider(FAIL)
    smtp.reject('gone@example.com')
    const c = await h.customer({ channels: [{ type: 'sms', address: '+8613800000002', consent: true }, { type: 'email', address: 'gone@example.com', consent: true }] })
    const notifier = h.notifier({ smtpUrl: smtp.url, providers: { sms: { url: sms.url, body: { to: '{{to}}', text: '{{text}}' }, idField: 'id' } }, retryScheduleMs: [10_000] })
    const { api, close } = await startNotifyApi(database, notifier, h.now)
    try {
      await h.openTicket(c)
      expect(await notifier.runOnce()).toBe(1)
      let [message] = await notifier.messages.list({ customerId: c.customerId })
      expect(message).toMatchObject({ status: 'queued', rounds: 1, nextAttemptAt: new Date(h.now() + 10_000) })
      expect(message.attemptLog.map((a) => [a.channel, a.outcome])).toEqual([['sms', 'retry'], ['email', 'give_up']])
      expect(message.attemptLog[1].error).toMatch(/^550 EENVELOPE/)

      h.advance(10_000)
      expect(await notifier.runOnce()).toBe(1)
      ;[message] = await notifier.messages.list({ customerId: c.customerId })
      expect(message.status).toBe('failed')
      expect(message.reason).toBe('every channel failed, 2 times; last: sms: HTTP 500: provider down')
      // The e-mail address refused for good is not tried again; the SMS provider is, once per round.
      expect(message.attemptLog.map((a) => [a.round, a.channel, a.outcome])).toEqual([[1, 'sms', 'retry'], [1, 'email', 'give_up'], [2, 'sms', 'retry']])
      expect(sms.received.map((r) => r.headers['webhook-id'])).toEqual([message.messageId, message.messageId])

      const dead = await api('GET', '/notifications/dead-letters')
      expect(dead.status).toBe(200)
      expect(dead.body.map((d: any) => d.id)).toContain(message.id)
      expect((await api('GET', `/notifications?status=failed&customerId=${c.customerId}`)).body).toHaveLength(1)
      expect((await api('GET', `/notifications/${message.id}`)).body).toMatchObject({ status: 'failed', attemptLog: expect.any(Array) })

      sms.script(okWithIds('sms'))
      const replayed = await api('POST', `/notifications/${message.id}/replay`)
      expect(replayed.body).toMatchObject({ status: 'queued', rounds: 0, messageId: message.messageId, reason: 'replayed by ADMIN_TOKEN' })
      expect((await api('POST', `/notifications/${message.id}/replay`)).body.code).toBe('PRECALL_ERR_CONFLICT')
      expect(await notifier.runOnce()).toBe(1)
      const sent = (await api('GET', `/notifications/${message.id}`)).body
      expect(sent).toMatchObject({ status: 'sent', channel: 'sms', providerMessageId: 'sms-0' })
      expect(sent.attemptLog.at(-1)).toMatchObject({ channel: 'sms', outcome: 'sent', providerMessageId: 'sms-0', statusCode: 200 })
    } finally {
      await close()
    }
  })

  it('tracks delivery through signed provider callbacks; a failure report falls over to the next channel', async () => {
    h = createNotifyHarness(database, { start: Date.now(), config: { quietHours: null } })
    const sms = await provider(okWithIds('sms'))
    const secret = newWebhookSecret()
    const notifier = h.notifier({ smtpUrl: smtp.url, providers: { sms: { url: sms.url, secret, body: { to: '{{to}}', text: '{{text}}' }, idField: 'id' } } })
    const { api, close } = await startNotifyApi(database, notifier, h.now)
    const signed = (body: object, key = secret) => {
      const text = JSON.stringify(body)
      const id = `cb_${Math.random()}`
      return { text, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(h.now() / 1000)), 'webhook-signature': new Webhook(key).sign(id, new Date(h.now()), text) } }
    }
    try {
      const a = await h.customer({ channels: [{ type: 'sms', address: '+8613800000003', consent: true }, { type: 'email', address: 'backup@example.com', consent: true }] })
      const b = await h.customer({ channels: [{ type: 'sms', address: '+8613800000004', consent: true }, { type: 'email', address: 'backup-b@example.com', consent: true }] })
      await h.openTicket(a)
      await h.openTicket(b)
      expect(await notifier.runOnce()).toBe(2)
      const [ma] = await notifier.messages.list({ customerId: a.customerId })
      const [mb] = await notifier.messages.list({ customerId: b.customerId })
      expect([ma.status, mb.status]).toEqual(['sent', 'sent'])

      const delivered = signed({ messageId: ma.messageId, status: 'delivered' })
      const ok = await api('POST', '/notify/providers/sms/status', delivered.text, delivered.headers)
      expect(ok).toMatchObject({ status: 200, body: { id: ma.id, status: 'delivered' } })
      const forged = signed({ messageId: mb.messageId, status: 'failed' }, newWebhookSecret())
      expect((await api('POST', '/notify/providers/sms/status', forged.text, forged.headers)).body.code).toBe('PRECALL_ERR_UNAUTHENTICATED')

      const failed = signed({ messageId: mb.messageId, status: 'failed', error: 'handset unreachable' })
      expect((await api('POST', '/notify/providers/sms/status', failed.text, failed.headers)).body.status).toBe('queued')
      expect(await notifier.runOnce()).toBe(1)
      const after = await notifier.messages.get(mb.id)
      expect(after).toMatchObject({ status: 'sent', channel: 'email' })
      expect(after!.attemptLog.map((x) => [x.channel, x.outcome, x.error])).toEqual([
        ['sms', 'sent', null], ['sms', 'failed', 'handset unreachable'], ['email', 'sent', null],
      ])
      expect(smtp.to('backup-b@example.com')).toHaveLength(1)
      expect(smtp.to('backup@example.com')).toHaveLength(0)
      expect((await notifier.messages.get(ma.id))!.deliveredAt).not.toBeNull()
      // A repeated report changes nothing.
      expect((await api('POST', '/notify/providers/sms/status', delivered.text, delivered.headers)).body.status).toBe('delivered')
    } finally {
      await close()
    }
  })
  it('tries first the channel a customer tag prefers (tag policy), then the customer\'s order', async () => {
    h = createNotifyHarness(database, { start: Date.now(), config: { quietHours: null } })
    const sms = await provider(okWithIds('sms'))
    const notifier = h.notifier({ smtpUrl: smtp.url, tagPolicy: { elderly: { preferredChannel: 'sms' } }, providers: { sms: { url: sms.url, body: { to: '{{to}}', text: '{{text}}' }, idField: 'id' } } })
    const c = await h.customer({ tags: ['elderly'], channels: [{ type: 'email', address: 'grandma@example.com', consent: true }, { type: 'sms', address: '+8613800000005', consent: true }] })
    await h.openTicket(c)
    await notifier.runOnce()
    expect((await h.messagesOf(c.customerId))[0]).toMatchObject({ status: 'sent', channel: 'sms' })
    expect(JSON.parse(sms.received[0].body).to).toBe('+8613800000005')
    expect(smtp.to('grandma@example.com')).toHaveLength(0)
  })
})
