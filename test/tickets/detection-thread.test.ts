import { eq } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Detection } from '../../rules/detection.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import type { Database } from '../../gateway/db/database.js'
import { detections, devices, deviceTypes, outbox, tickets, webhookSubscriptions } from '../../gateway/db/schema.js'
import { createMetrics } from '../../gateway/metrics.js'
import { startDetectionThread } from '../../gateway/tickets/detection-thread.js'
import type { Queued } from '../../gateway/tickets/ticket-change.js'
import { openTestDatabase } from '../support/databases.js'

const policy = loadConfig({ DATA_DIR: 'memory' }).tickets
const customer = { customerId: null, customerTags: [], customerTimezone: 'UTC' }

function detection(deviceId: string, detectedAt: number): Detection {
  return {
    ruleId: 'washer-drain-slow', ruleVersion: 1, mode: 'active', deviceId, deviceType: 'washer', problem: 'drain-pump',
    ticketType: 'service', title: 'Drain pump clogging', severity: 'major', notifyCustomer: false, detectedAt,
    evidence: { kind: 'threshold', metric: 'drain_time_s', op: '>', limit: 120, value: 400, since: detectedAt, heldMs: 0, readings: 1, min: 400, max: 400 },
  }
}

/** Keeps this thread busy for `ms`, as a saturated gateway's event loop is. */
function spin(ms: number) {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy */ }
}

describe('the detection thread (PostgreSQL)', () => {
  let database: Database & { url?: string }
  let thread: Awaited<ReturnType<typeof startDetectionThread>>
  const metrics = createMetrics()
  const handed: Queued[] = []
  const workerId = 'gateway-test'

  beforeAll(async () => {
    database = await openTestDatabase('postgres')
    await database.db.insert(deviceTypes).values({ id: 'washer', name: 'Washing machine', metrics: {} })
    await database.db.insert(devices).values(['dt-1', 'dt-2', 'dt-3', 'dt-4'].map((id) => ({ id, typeId: 'washer', secretHash: 'x' })))
    await database.db.insert(webhookSubscriptions).values({ id: 'sub-crm', url: 'http://127.0.0.1:9/hook', events: ['ticket.opened'], secrets: [{ secret: 'whsec_test', expiresAt: null }] })
    thread = await startDetectionThread({
      data: { url: database.url!, poolSize: 2, policy }, metrics, log: pino({ level: 'silent' }), now: Date.now,
      outboxLease: (at) => ({ workerId, until: new Date(at.getTime() + 30_000) }),
      onOutbox: (q) => handed.push(q),
    })
  })
  afterAll(async () => {
    await thread?.close()
    await database?.close()
  })

  it('opens the ticket there, hands what it queued to this thread leased to its dispatcher, and counts it here', async () => {
    const outcome = await thread.record(detection('dt-1', Date.now() - 60_000), customer)

    expect(outcome.action).toBe('opened')
    const [row] = await database.db.select().from(tickets).where(eq(tickets.deviceId, 'dt-1'))
    expect(row).toMatchObject({ problem: 'drain-pump', status: 'open' })
    const queuedRows = handed.flatMap((q) => q.rows).filter((r) => r.ticketId === row.id)
    expect(queuedRows).toHaveLength(1)
    expect(queuedRows[0]).toMatchObject({ lockedBy: workerId, subscriptionId: 'sub-crm' })
    expect(handed.flatMap((q) => q.subscriptions).map((s) => s.id)).toContain('sub-crm')
    const [stored] = await database.db.select().from(outbox).where(eq(outbox.ticketId, row.id))
    expect(stored.lockedBy).toBe(workerId)

    const text = await metrics.registry.metrics()
    expect(text).toMatch(/^precall_detections_total\{mode="active"\} 1$/m)
    expect(text).toMatch(/^precall_tickets_total\{action="opened"\} 1$/m)
  })

  it('records while this thread is busy: the transaction does not wait for this event loop', async () => {
    // Held at once, before this thread could send anything itself (the driver writes in a
    // microtask): recorded here, the transaction would begin after the hold.
    const busyFrom = Date.now()
    const recording = thread.record(detection('dt-2', Date.now() - 60_000), customer)
    spin(600)
    const busyUntil = Date.now()
    expect((await recording).action).toBe('opened')

    // created_at is PostgreSQL's now(): when the thread's transaction began.
    const [logged] = await database.db.select().from(detections).where(eq(detections.deviceId, 'dt-2'))
    expect(logged.createdAt.getTime()).toBeGreaterThanOrEqual(busyFrom - 5)
    expect(logged.createdAt.getTime()).toBeLessThan(busyUntil)
  })

  it('answers a failed change with its error, and goes on with the next', async () => {
    const bad = { ...detection('dt-3', Date.now()), evidence: undefined } as unknown as Detection
    await expect(thread.record(bad, customer)).rejects.toThrow(/evidence/)
    expect((await thread.record(detection('dt-3', Date.now() - 1000), customer)).action).toBe('opened')
  })

  it('clears a ticket there and counts it here', async () => {
    const detectedAt = Date.now() - 120_000
    await thread.record(detection('dt-4', detectedAt), customer)
    const cleared = await thread.clear({ ruleId: 'washer-drain-slow', ruleVersion: 1, mode: 'active', deviceId: 'dt-4', problem: 'drain-pump', clearedAt: Date.now(), selfClear: true } as never)
    expect(cleared).toMatchObject({ status: 'resolved', outcome: 'self_cleared' })
    expect(await metrics.registry.metrics()).toMatch(/^precall_tickets_total\{action="self_cleared"\} 1$/m)
  })
})
