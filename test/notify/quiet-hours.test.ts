import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { DAY, createNotifyHarness, type NotifyHarness } from './harness.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

const LATE = Date.parse('2026-11-02T15:30:00Z') // 23:30 in Asia/Shanghai
const EIGHT = Date.parse('2026-11-03T00:00:00Z') // 08:00 there the next morning

describe.each(BACKENDS)('quiet hours on %s', (backend) => {
  let database: Database
  let smtp: SmtpSink
  let h: NotifyHarness
  beforeAll(async () => {
    database = await openTestDatabase(backend)
    smtp = await startSmtpSink()
  })
  afterAll(async () => {
    await smtp.close()
    await database.close()
  })
  afterEach(async () => { await h.close() })

  it('defers a ticket opened at 23:30 customer time to 08:00, then sends it once', async () => {
    h = createNotifyHarness(database, { start: LATE, config: { smtpUrl: smtp.url } })
    const c = await h.customer({ channels: [{ type: 'email', address: 'night@example.com', consent: true }] })
    await h.openTicket(c)
    const notifier = h.notifier()

    expect(await notifier.runOnce()).toBe(1)
    const [deferred] = await h.messagesOf(c.customerId)
    expect(deferred).toMatchObject({ status: 'deferred', reason: 'quiet hours 21:00-08:00 Asia/Shanghai', nextAttemptAt: new Date(EIGHT), quotaDay: null })

    h.set(EIGHT - 60_000)
    expect(await notifier.runOnce()).toBe(0)
    expect(smtp.to('night@example.com')).toHaveLength(0)

    h.set(EIGHT)
    expect(await notifier.runOnce()).toBe(1)
    h.advance(DAY)
    expect(await notifier.runOnce()).toBe(0)
    const mails = smtp.to('night@example.com')
    expect(mails).toHaveLength(1)
    const [sent] = await h.messagesOf(c.customerId)
    expect(sent).toMatchObject({ status: 'sent', channel: 'email', sentAt: new Date(EIGHT), quotaDay: '2026-11-03', rounds: 1 })
    expect(mails[0].messageId).toBe(`<${sent.messageId}@precall>`)
    expect(mails[0].subject).toBe('Washing machine WM-8: Drain pump clogging')
  })

  it('sends a critical problem at 23:30 at once, and honours a customer\'s own quiet hours', async () => {
    h = createNotifyHarness(database, { start: LATE, config: { smtpUrl: smtp.url } })
    const c = await h.customer({ locale: 'zh-CN', channels: [{ type: 'email', address: 'leak@example.com', consent: true }] })
    await h.openTicket(c, { severity: 'critical', title: '漏水' })
    const notifier = h.notifier()
    expect(await notifier.runOnce()).toBe(1)
    const [mail] = smtp.to('leak@example.com')
    expect(mail.subject).toBe('Washing machine WM-8：漏水')
    expect(mail.text).toContain('如能安全操作，请立即关闭电器。')
    expect(mail.headers.importance).toBe('high')
    expect((await h.messagesOf(c.customerId))[0]).toMatchObject({ status: 'sent', urgent: true, locale: 'zh-CN' })

    const owl = await h.customer({ channels: [{ type: 'email', address: 'owl@example.com', consent: true }] })
    await notifier.preferences.update(owl.customerId, { quietHours: 'off' }, 'test')
    await h.openTicket(owl)
    expect(await notifier.runOnce()).toBe(1)
    expect(smtp.to('owl@example.com')).toHaveLength(1)
  })
  it('sends only the newest message when a ticket moved on while its first message waited', async () => {
    h = createNotifyHarness(database, { start: LATE, config: { smtpUrl: smtp.url } })
    const c = await h.customer({ channels: [{ type: 'email', address: 'cleared@example.com', consent: true }] })
    const ticket = await h.openTicket(c)
    const notifier = h.notifier()
    await notifier.runOnce()
    h.set(LATE + 3 * 3_600_000) // 02:30: the fault cleared by itself
    await h.change(ticket, { status: 'resolved', outcome: 'self_cleared', resolvedAt: new Date(h.now()) }, 'ticket.resolved', 'status')
    await notifier.runOnce()
    h.set(EIGHT)
    while ((await notifier.runOnce()) > 0);
    const mails = smtp.to('cleared@example.com')
    expect(mails.map((m) => m.subject)).toEqual(['Your Washing machine WM-8: Drain pump clogging resolved'])
    expect(mails[0].text).toContain('is resolved: the problem cleared by itself.')
    const rows = await h.messagesOf(c.customerId)
    expect(rows.map((r) => [r.kind, r.status, r.reason])).toEqual([
      ['opened', 'suppressed', 'superseded by a newer message about this ticket (resolved)'],
      ['resolved', 'sent', null],
    ])
  })
})
