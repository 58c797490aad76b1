import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { startReceiver, type Receiver } from '../outbox/receiver.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { createNotifyHarness, okWithIds, type NotifyHarness } from './harness.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

const NOON = Date.parse('2026-11-02T04:00:00Z') // 12:00 in Asia/Shanghai

describe.each(BACKENDS)('one message per state change on %s', (backend) => {
  let database: Database
  let smtp: SmtpSink
  let h: NotifyHarness
  let receiver: Receiver | undefined
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
    await receiver?.close()
    receiver = undefined
  })

  it('two workers racing over the same messages send each exactly once', async () => {
    h = createNotifyHarness(database, { start: NOON, config: { smtpUrl: smtp.url } })
    const addresses: string[] = []
    for (let i = 0; i < 12; i++) {
      const address = `race-${i}@example.com`
      addresses.push(address)
      const c = await h.customer({ channels: [{ type: 'email', address, consent: true }] })
      const ticket = await h.openTicket(c)
      await h.change(ticket, { status: 'dispatched', technician: 'Zhang San' }, 'ticket.updated', 'status')
    }
    const a = h.notifier({}, 'worker-a')
    const b = h.notifier({}, 'worker-b')
    for (let pass = 0; pass < 10; pass++) {
      const [na, nb] = await Promise.all([a.runOnce(), b.runOnce()])
      if (na + nb === 0) break
    }
    for (const address of addresses) {
      expect(smtp.to(address).map((m) => m.subject)).toEqual(['Washing machine WM-8: Drain pump clogging', 'Service visit for your Washing machine WM-8'])
    }
    const ids = addresses.flatMap((address) => smtp.to(address).map((m) => m.messageId))
    expect(new Set(ids).size).toBe(24)
  })

  it('a worker that stalls mid-send loses its lease; the one taking over sends under the same id, and the stalled one changes nothing', async () => {
    h = createNotifyHarness(database, { start: NOON })
    receiver = await startReceiver(['hang', ...okWithIds('sms')])
    const c = await h.customer({ channels: [{ type: 'sms', address: '+8613800000009', consent: true }] })
    await h.openTicket(c)
    const config = { providers: { sms: { url: receiver.url, body: { to: '{{to}}', text: '{{text}}' }, idField: 'id' } }, leaseMs: 30_000, timeoutMs: 1_500 }
    const stalled = h.notifier(config, 'worker-stalled')
    const rescuer = h.notifier(config, 'worker-rescuer')

    const first = stalled.runOnce()
    await vi.waitFor(() => expect(receiver!.received).toHaveLength(1))
    expect(await rescuer.runOnce()).toBe(0) // leased
    h.advance(30_001)
    expect(await rescuer.runOnce()).toBe(1)
    expect(await first).toBe(1)
    expect(await rescuer.runOnce()).toBe(0)

    const [message] = await rescuer.messages.list({ customerId: c.customerId })
    expect(message).toMatchObject({ status: 'sent', providerMessageId: 'sms-0', rounds: 1 })
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([message.messageId, message.messageId])
    expect(receiver.received.map((r) => r.headers['idempotency-key'])).toEqual([message.messageId, message.messageId])
    expect(message.attemptLog.map((x) => x.outcome).sort()).toEqual(['retry', 'sent'])
  })
})
