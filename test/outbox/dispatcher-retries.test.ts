import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { createHarness, type Harness } from './harness.js'
import { startReceiver, type Receiver } from './receiver.js'

describe.each(BACKENDS)('dispatcher retries (%s)', (backend) => {
  let database: Database
  let h: Harness
  let receiver: Receiver | undefined

  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })
  beforeEach(() => { h = createHarness(database) })
  afterEach(async () => {
    await h.close()
    await receiver?.close()
    receiver = undefined
  })

  it('retries a 500 and a timeout, then delivers once, signing every attempt afresh', async () => {
    receiver = await startReceiver([{ status: 500, body: 'boom' }, 'hang', { status: 200 }])
    const { secret } = await h.subscriptions.create({ url: receiver.url, events: ['ticket.opened'] })
    expect(await h.enqueue('t-a')).toBe(1)
    const dispatcher = h.dispatcher()

    expect(await dispatcher.runOnce()).toBe(1)
    expect(await dispatcher.runOnce()).toBe(0) // not due for another 10 s
    h.advance(10_000)
    expect(await dispatcher.runOnce()).toBe(1) // hangs past timeoutMs
    h.advance(20_000)
    expect(await dispatcher.runOnce()).toBe(1)
    h.advance(3_600_000)
    expect(await dispatcher.runOnce()).toBe(0)

    expect(receiver.received).toHaveLength(3)
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']))
    expect(ids.size).toBe(1)
    const stamps = receiver.received.map((r) => Number(r.headers['webhook-timestamp']))
    expect(stamps[1] - stamps[0]).toBe(10)
    expect(stamps[2] - stamps[1]).toBe(20)
    const wh = new Webhook(secret)
    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/json')
      expect(r.headers['user-agent']).toBe('precall-webhooks/1')
      expect(wh.verify(r.body, r.headers as Record<string, string>)).toMatchObject({ type: 'ticket.opened', data: { ticket: { id: 't-a' } } })
    }

    const [delivery] = await h.deliveriesOf('t-a')
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastError: null, messageId: [...ids][0] })
    expect(delivery.attemptLog.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([[1, 'retry', 500], [2, 'retry', null], [3, 'delivered', 200]])
    expect(delivery.attemptLog[0].error).toBe('HTTP 500: boom')
    expect(delivery.attemptLog[1].error).toMatch(/timed out after 200 ms/)
    expect([await h.deliveryCount('retry'), await h.deliveryCount('delivered')]).toEqual([2, 1])
  })

  it('honours Retry-After over the schedule, on the injected clock', async () => {
    receiver = await startReceiver([{ status: 429, headers: { 'retry-after': '120' } }])
    await h.subscriptions.create({ url: receiver.url, events: ['*'] })
    await h.enqueue('t-c', 'ticket.escalated')
    const dispatcher = h.dispatcher()
    const start = h.now()

    expect(await dispatcher.runOnce()).toBe(1)
    const [pending] = await h.deliveriesOf('t-c')
    expect(pending.nextAttemptAt.getTime()).toBe(start + 120_000)
    expect(pending.lastError).toBe('HTTP 429')

    h.advance(119_999)
    expect(await dispatcher.runOnce()).toBe(0)
    expect(receiver.received).toHaveLength(1)
    h.advance(1)
    expect(await dispatcher.runOnce()).toBe(1)
    expect(receiver.received).toHaveLength(2)
    expect((await h.deliveriesOf('t-c'))[0].status).toBe('delivered')
  })

  it('dead-letters after the last scheduled attempt; a replay delivers it under the same webhook-id', async () => {
    receiver = await startReceiver([{ status: 503 }, { status: 502 }])
    await h.subscriptions.create({ url: receiver.url, events: ['ticket.resolved'] })
    await h.enqueue('t-h', 'ticket.resolved')
    const dispatcher = h.dispatcher({ retryScheduleMs: [1_000] })

    await dispatcher.runOnce()
    h.advance(1_000)
    await dispatcher.runOnce()
    h.advance(86_400_000)
    expect(await dispatcher.runOnce()).toBe(0)

    const [dead] = await h.outbox.listDeliveries({ status: 'dead', ticketId: 't-h', limit: 10 })
    expect(dead).toMatchObject({ attempts: 2, lastError: 'gave up after 2 attempts; last: HTTP 502' })
    expect(dead.attemptLog).toHaveLength(2)
    expect([await h.deliveryCount('retry'), await h.deliveryCount('dead')]).toEqual([1, 1])
    await expect(h.outbox.pendingCount()).resolves.toBe(0)

    const replayed = await h.outbox.replayDelivery(dead.id)
    expect(replayed).toMatchObject({ status: 'pending', attempts: 0, messageId: dead.messageId, lastError: null })
    await expect(h.outbox.pendingCount()).resolves.toBe(1)
    await expect(h.outbox.replayDelivery(dead.id)).rejects.toMatchObject({ code: 'PRECALL_ERR_CONFLICT' })
    await expect(h.outbox.replayDelivery(999_999)).rejects.toMatchObject({ code: 'PRECALL_ERR_NOT_FOUND' })

    expect(await dispatcher.runOnce()).toBe(1)
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([dead.messageId, dead.messageId, dead.messageId])
    const delivered = await h.outbox.getDelivery(dead.id)
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 1 })
    expect(delivered!.attemptLog.map((a) => a.outcome)).toEqual(['retry', 'retry', 'delivered'])
  })
})
