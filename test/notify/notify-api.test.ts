import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import type { Notifier } from '../../gateway/notify/notifier.js'
import { newWebhookSecret } from '../../gateway/outbox/sign.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { startNotifyApi } from './api.js'
import { createNotifyHarness, type NotifyHarness } from './harness.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

const NOON = Date.parse('2026-11-02T04:00:00Z') // 12:00 in Asia/Shanghai

describe.each(BACKENDS)('notification API on %s', (backend) => {
  let database: Database
  let smtp: SmtpSink
  let h: NotifyHarness
  let notifier: Notifier
  let api: Awaited<ReturnType<typeof startNotifyApi>>['api']
  let closeApi: () => Promise<void>
  const smsSecret = newWebhookSecret()

  beforeAll(async () => {
    database = await openTestDatabase(backend)
    smtp = await startSmtpSink()
    h = createNotifyHarness(database, { start: NOON, config: { smtpUrl: smtp.url, publicUrl: 'https://precall.example.com/' } })
    notifier = h.notifier({ providers: { sms: { url: 'http://127.0.0.1:9/never', secret: smsSecret, body: { to: '{{to}}' }, idField: 'id' } } })
    ;({ api, close: closeApi } = await startNotifyApi(database, notifier, h.now))
  })
  afterAll(async () => {
    await closeApi()
    await h.close()
    await smtp.close()
    await database.close()
  })

  it('sets channel order, consent, quiet hours and cap per customer, logging every consent change', async () => {
    const c = await h.customer({ channels: [{ type: 'sms', address: '+8613800000010', consent: true }] })
    const set = await api('POST', `/customers/${c.customerId}/preferences`, {
      channels: [{ type: 'email', address: 'pref@example.com', consent: true }, { type: 'sms', address: '+8613800000010', consent: false }],
      quietHours: '22:30-07:00',
      dailyCap: 5,
    })
    expect(set.status).toBe(200)
    expect(set.body).toMatchObject({ channelOrder: ['email', 'sms'], quietHours: '22:30-07:00', quietHoursSource: 'customer', dailyCap: 5, dailyCapSource: 'customer' })
    // Newest first; e-mail is new (consent given), SMS consent was withdrawn.
    expect(set.body.consentLog.map((l: any) => [l.channel, l.consent, l.source, l.actor])).toEqual([
      ['sms', false, 'api', 'ADMIN_TOKEN'], ['email', true, 'api', 'ADMIN_TOKEN'],
    ])
    const back = await api('POST', `/customers/${c.customerId}/preferences`, { quietHours: null, dailyCap: null })
    expect(back.body).toMatchObject({ quietHours: '21:00-08:00', quietHoursSource: 'default', dailyCap: 3, dailyCapSource: 'default' })

    expect((await api('POST', `/customers/${c.customerId}/preferences`, { quietHours: '9pm-8am' })).body.code).toBe('PRECALL_ERR_VALIDATION')
    expect((await api('POST', `/customers/${c.customerId}/preferences`, { channels: [{ type: 'fax', address: '1', consent: true }] })).status).toBe(400)
    expect((await api('POST', `/customers/${c.customerId}/preferences`, { colour: 'red' })).status).toBe(400)
    expect((await api('POST', '/customers/nobody/preferences', { dailyCap: 2 })).status).toBe(404)
    expect((await api('GET', `/customers/${c.customerId}/preferences`, undefined, {})).status).toBe(401)
  })

  it('puts an unsubscribe link in e-mail; following it (POST, as one-click does) withdraws consent', async () => {
    const c = await h.customer({ channels: [{ type: 'email', address: 'leave@example.com', consent: true }] })
    await h.openTicket(c)
    await notifier.runOnce()
    const [mail] = smtp.to('leave@example.com')
    const link = /^<(https:\/\/precall\.example\.com\/api\/v1\/unsubscribe\/[^>]+)>$/.exec(mail.headers['list-unsubscribe'])![1]
    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click')
    const path = link.replace('https://precall.example.com/api/v1', '')

    const page = await api('GET', path, undefined, {})
    expect(page.status).toBe(200)
    expect(page.text).toContain('<form method="post">')
    expect((await api('GET', `/customers/${c.customerId}/preferences`)).body.channels[0].consent).toBe(true)

    const done = await api('POST', path, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' })
    expect(done.body).toEqual({ unsubscribed: true, channels: ['email'] })
    const prefs = (await api('GET', `/customers/${c.customerId}/preferences`)).body
    expect(prefs.channels[0].consent).toBe(false)
    expect(prefs.consentLog[0]).toMatchObject({ channel: 'email', consent: false, source: 'unsubscribe_link' })
    expect((await api('POST', '/unsubscribe/not-a-real-token', undefined, {})).status).toBe(404)

    await h.openTicket(c)
    await notifier.runOnce()
    expect(smtp.to('leave@example.com')).toHaveLength(1)
    const [latest] = await notifier.messages.list({ customerId: c.customerId })
    expect(latest).toMatchObject({ status: 'suppressed', reason: 'no consent on any channel (email)' })
  })

  it('withdraws SMS consent on a signed STOP / 退订 reply', async () => {
    const c = await h.customer({ channels: [{ type: 'sms', address: '+8613800000011', consent: true }] })
    const reply = (text: string, secret = smsSecret) => {
      const body = JSON.stringify({ from: '+8613800000011', text })
      const id = `in_${Math.random()}`
      const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(h.now() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, new Date(h.now()), body) }
      return api('POST', '/notify/providers/sms/inbound', body, headers)
    }
    expect((await reply('hello')).body).toEqual({ unsubscribed: [] })
    expect((await reply('退订', newWebhookSecret())).status).toBe(401)
    expect((await api('POST', '/notify/providers/push/inbound', { from: 'x', text: 'STOP' }, { 'content-type': 'application/json' })).status).toBe(403)
    expect((await reply(' 退订 ')).body).toEqual({ unsubscribed: [c.customerId] })
    const prefs = (await api('GET', `/customers/${c.customerId}/preferences`)).body
    expect(prefs.channels).toEqual([{ type: 'sms', address: '+8613800000011', consent: false }])
    expect(prefs.consentLog[0]).toMatchObject({ source: 'keyword', actor: 'reply "退订"' })
  })

  it('stores templates through the API, refuses a broken one, and falls back customer locale → language → English', async () => {
    const list = (await api('GET', '/notification-templates')).body
    expect(list.filter((t: any) => t.source === 'builtin').map((t: any) => t.locale)).toEqual(expect.arrayContaining(['en', 'zh-CN']))

    const broken = await api('PUT', '/notification-templates/opened/zh-CN', { subject: '{{appliance}}', body: '{{customerName}}您好，{{faultCode}}' })
    expect(broken.status).toBe(400)
    expect(broken.body.code).toBe('PRECALL_ERR_VALIDATION')
    expect(broken.body.problems[0]).toMatchObject({ path: 'body', message: expect.stringMatching(/^unknown field "faultCode"/) })
    expect((await api('PUT', '/notification-templates/opened/zh-CN', { body: 'x', extra: 1 })).status).toBe(400)

    const saved = await api('PUT', '/notification-templates/opened/zh-CN?channel=email', { subject: '【预警】{{appliance}}', body: '{{customerName}}：{{problem}}，单号{{reference}}' })
    expect(saved.status).toBe(200)
    expect(saved.body).toMatchObject({ kind: 'opened', locale: 'zh-CN', channel: 'email', source: 'stored', version: 1, updatedBy: 'ADMIN_TOKEN' })

    const zhTw = await h.customer({ locale: 'zh-TW', name: '王芳', channels: [{ type: 'email', address: 'tw@example.com', consent: true }] })
    const fr = await h.customer({ locale: 'fr', name: 'Marie', channels: [{ type: 'email', address: 'fr@example.com', consent: true }] })
    const t = await h.openTicket(zhTw, { title: '排水泵堵塞' })
    await h.openTicket(fr)
    await notifier.runOnce()
    expect(smtp.to('tw@example.com')[0]).toMatchObject({ subject: '【预警】Washing machine WM-8', text: `王芳：排水泵堵塞，单号${t.id}` })
    expect(smtp.to('fr@example.com')[0].text).toMatch(/^Hello Marie, your Washing machine WM-8 told us about a problem: Drain pump clogging\./)

    expect((await api('DELETE', '/notification-templates/opened/zh-CN?channel=email')).status).toBe(204)
    expect((await api('DELETE', '/notification-templates/opened/zh-CN?channel=email')).status).toBe(404)
    expect((await api('GET', '/notification-templates/opened/zh-CN')).body).toMatchObject({ source: 'builtin' })
  })

  it('reports reach and time from detection to first contact', async () => {
    const kpis = (await api('GET', `/notifications/kpis?from=${new Date(NOON - 3_600_000).toISOString()}&to=${new Date(NOON + 3_600_000).toISOString()}`)).body
    // Four tickets; the customer who unsubscribed was not reached about their second one.
    expect(kpis).toMatchObject({ tickets: 4, reached: 3, reachRate: 0.75, sentByChannel: { email: 3 }, messages: { sent: 3, suppressed: 1 } })
    expect(kpis.timeToFirstContactMs.median).toBe(60_000) // detected a minute before the ticket opened, sent at once
  })
})
