import { and, eq } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { notificationQuota } from '../../gateway/db/notify-schema.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { HOUR, createNotifyHarness, type NotifyHarness } from './harness.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

const MORNING = Date.parse('2026-11-02T02:00:00Z') // 10:00 in Asia/Shanghai
const NEXT_EIGHT = Date.parse('2026-11-03T00:00:00Z') // 08:00 there the next day

describe.each(BACKENDS)('daily cap and digest on %s', (backend) => {
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

  const drain = async (run: () => Promise<number>) => {
    let passes = 0
    while ((await run()) > 0) passes++
    return passes
  }
  const usedOn = async (customerId: string, day: string) =>
    (await database.db.select().from(notificationQuota).where(and(eq(notificationQuota.customerId, customerId), eq(notificationQuota.day, day))))[0]?.used

  it('sends three of five messages in a day and the other two in one digest the next morning', async () => {
    h = createNotifyHarness(database, { start: MORNING, config: { smtpUrl: smtp.url } })
    const c = await h.customer({ channels: [{ type: 'email', address: 'busy@example.com', consent: true }] })
    const notifier = h.notifier()
    const tickets = []
    for (let i = 0; i < 5; i++) {
      tickets.push(await h.openTicket(c, { title: `Problem ${i + 1}` }))
      h.advance(HOUR)
    }
    expect(await drain(notifier.runOnce)).toBe(5)
    expect(smtp.to('busy@example.com').map((m) => m.subject)).toEqual([1, 2, 3].map((i) => `Washing machine WM-8: Problem ${i}`))

    const rows = await h.messagesOf(c.customerId)
    const digest = rows.find((r) => r.kind === 'digest')!
    expect(digest).toMatchObject({ status: 'deferred', nextAttemptAt: new Date(NEXT_EIGHT), dedupKey: `digest:${c.customerId}:2026-11-03` })
    expect(rows.filter((r) => r.kind === 'opened').map((r) => [r.status, r.digestId])).toEqual([
      ['sent', null], ['sent', null], ['sent', null], ['suppressed', digest.id], ['suppressed', digest.id],
    ])
    expect(rows[3].reason).toBe(`daily cap of 3 reached: merged into digest ${digest.messageId}`)
    expect(await usedOn(c.customerId, '2026-11-02')).toBe(3)

    // A critical problem is not held back by the cap.
    await h.openTicket(c, { title: 'Water leak', severity: 'critical' })
    await drain(notifier.runOnce)
    expect(smtp.to('busy@example.com')).toHaveLength(4)

    h.set(NEXT_EIGHT - 60_000)
    expect(await notifier.runOnce()).toBe(0)
    h.set(NEXT_EIGHT)
    expect(await drain(notifier.runOnce)).toBe(1)
    const mails = smtp.to('busy@example.com')
    expect(mails).toHaveLength(5)
    expect(mails[4].subject).toBe('2 updates about your appliances')
    expect(mails[4].text).toContain(`Problem 4 (reference ${tickets[3].id})`)
    expect(mails[4].text).toContain(`Problem 5 (reference ${tickets[4].id})`)
    expect((await h.messagesOf(c.customerId)).find((r) => r.kind === 'digest')).toMatchObject({ status: 'sent', quotaDay: '2026-11-03' })
    expect(await usedOn(c.customerId, '2026-11-03')).toBe(1)
  })

  it('takes a customer\'s own cap, and gives a slot back when a message is not sent after all', async () => {
    h = createNotifyHarness(database, { start: MORNING, config: { smtpUrl: smtp.url } })
    const c = await h.customer({ channels: [{ type: 'email', address: 'one@example.com', consent: true }] })
    const notifier = h.notifier()
    await notifier.preferences.update(c.customerId, { dailyCap: 1 }, 'test')
    await h.openTicket(c)
    await h.openTicket(c)
    await drain(notifier.runOnce)
    expect(smtp.to('one@example.com')).toHaveLength(1)
    expect((await h.messagesOf(c.customerId)).map((r) => r.status)).toEqual(['sent', 'suppressed', 'deferred'])

    // Consent withdrawn: the next message is suppressed and its slot given back.
    const quiet = await h.customer({ channels: [{ type: 'email', address: 'nope@example.com', consent: false }] })
    await h.openTicket(quiet)
    await drain(notifier.runOnce)
    const [suppressed] = await notifier.messages.list({ customerId: quiet.customerId })
    expect(suppressed).toMatchObject({ status: 'suppressed', reason: 'no consent on any channel (email)', quotaDay: null })
    expect(suppressed.attemptLog.map((a) => a.outcome)).toEqual(['refused'])
    expect(await usedOn(quiet.customerId, '2026-11-02')).toBe(0)
  })
})
