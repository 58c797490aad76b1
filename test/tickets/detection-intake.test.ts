import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Detection } from '../../rules/detection.js'
import { detections, ticketHistory, tickets } from '../../gateway/db/schema.js'
import { createDetectionIntake, type DetectionIntake } from '../../gateway/tickets/detection-intake.js'
import { BACKENDS } from '../support/databases.js'
import { registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

const DAY = 86_400_000
const CUSTOMER = { customerId: null, customerTags: [], customerTimezone: 'UTC' }
const overcurrent = (value: number): Detection['evidence'] => ({
  kind: 'threshold', metric: 'motor_current_a', op: '>', limit: 10, value, since: 0, heldMs: 0, readings: 1, min: value, max: value,
})

// Each outcome of a detection, driven through the intake itself: the one statement that logs it and
// opens or updates its ticket, and what follows from the latest ticket it found.
describe.each(BACKENDS)('a detection recorded on %s', (backend) => {
  let t: TestGateway
  let intake: DetectionIntake
  let deviceId: string
  let clock = Date.parse('2026-11-02T02:00:00Z')

  const detection = (detectedAt: number, over: Partial<Detection> = {}): Detection => ({
    ruleId: 'motor-overcurrent', ruleVersion: 1, mode: 'active', deviceId, deviceType: 'washer', problem: 'motor', ticketType: 'service',
    title: 'Motor overcurrent', severity: 'major', notifyCustomer: false, detectedAt, evidence: overcurrent(12), ...over,
  })
  const ticketRows = () => t.gateway.database.db.select().from(tickets).where(eq(tickets.deviceId, deviceId)).orderBy(tickets.openedAt)
  /** The ticket a logged detection is linked to (null: none). */
  const ticketOf = async (ruleVersion: number, detectedAt: number) => {
    const [row] = await t.gateway.database.db.select({ ticketId: detections.ticketId }).from(detections)
      .where(and(eq(detections.deviceId, deviceId), eq(detections.ruleVersion, ruleVersion), eq(detections.detectedAt, new Date(detectedAt))))
    return row?.ticketId
  }
  const setStatus = (id: string, status: 'resolved' | 'closed', resolvedAt: number) =>
    t.gateway.database.db.update(tickets).set({ status, outcome: 'fixed', resolvedAt: new Date(resolvedAt) }).where(eq(tickets.id, id))

  beforeAll(async () => {
    // The gateway keeps the test's clock, and its escalation pass waits an hour: escalating the
    // tickets these detections open (a change of their own) is not what is tested here.
    t = await startTestGateway(backend, { REPEAT_WINDOW_MS: String(30 * DAY), SCHEDULER_POLL_MS: '3600000' }, { now: () => clock })
    ;[{ id: deviceId }] = await registerFleet(t, 1, `intake-${backend}`)
    intake = createDetectionIntake({ database: t.gateway.database, metrics: t.gateway.metrics, policy: t.gateway.config.tickets, now: () => clock })
  })
  afterAll(async () => t?.close())

  it('opens a ticket, links the detection to it, and takes the same detection again as a duplicate', async () => {
    const first = clock - 60_000
    const opened = await intake.record(detection(first), CUSTOMER)
    expect(opened).toMatchObject({ action: 'opened', repeatOf: null, ticket: { status: 'open', occurrences: 1, version: 1, priority: 2, repeatOf: null } })
    if (opened.action !== 'opened') throw new Error('not opened')
    expect(await ticketOf(1, first)).toBe(opened.ticket.id)

    expect(await intake.record(detection(first), CUSTOMER)).toEqual({ action: 'duplicate' })
    const [row] = await ticketRows()
    expect(row).toMatchObject({ id: opened.ticket.id, occurrences: 1, version: 1 })
  })

  it('leaves the open ticket as it is for an older detection of another version, and links that detection to it', async () => {
    const [open] = await ticketRows()
    const older = open.lastDetectedAt.getTime() - 30_000
    expect(await intake.record(detection(older, { ruleVersion: 2 }), CUSTOMER)).toEqual({ action: 'duplicate' })
    const [row] = await ticketRows()
    expect(row).toMatchObject({ occurrences: 1, version: 1, lastDetectedAt: open.lastDetectedAt })
    expect(await ticketOf(2, older)).toBe(open.id)
  })

  it('updates the open ticket for a newer detection, and records a shadow detection without touching it', async () => {
    const [open] = await ticketRows()
    const newer = open.lastDetectedAt.getTime() + 30_000
    const updated = await intake.record(detection(newer, { evidence: overcurrent(15) }), CUSTOMER)
    expect(updated).toMatchObject({ action: 'updated', ticket: { id: open.id, occurrences: 2, version: 2, evidence: { value: 15 } } })
    expect(await ticketOf(1, newer)).toBe(open.id)

    const shadowAt = newer + 30_000
    expect(await intake.record(detection(shadowAt, { mode: 'shadow', ruleVersion: 3 }), CUSTOMER)).toEqual({ action: 'shadow' })
    const [row] = await ticketRows()
    expect(row).toMatchObject({ occurrences: 2, version: 2 })
    expect(await ticketOf(3, shadowAt)).toBeNull()
  })

  it('reopens a resolved ticket, and after it is closed opens a repeat within the window and a plain ticket after it', async () => {
    const [ticket] = await ticketRows()
    await setStatus(ticket.id, 'resolved', clock)
    clock += DAY
    const reopened = await intake.record(detection(clock), CUSTOMER)
    expect(reopened).toMatchObject({ action: 'reopened', ticket: { id: ticket.id, status: 'reopened', occurrences: 3, outcome: null } })

    await setStatus(ticket.id, 'closed', clock)
    clock += 30 * DAY
    const repeat = await intake.record(detection(clock), CUSTOMER)
    // A repeat takes the repeat's terms: one priority step up.
    expect(repeat).toMatchObject({ action: 'opened', repeatOf: ticket.id, ticket: { repeatOf: ticket.id, priority: 1, occurrences: 1 } })
    if (repeat.action !== 'opened') throw new Error('not opened')

    await setStatus(repeat.ticket.id, 'closed', clock)
    clock += 30 * DAY + 1
    const plain = await intake.record(detection(clock), CUSTOMER)
    expect(plain).toMatchObject({ action: 'opened', repeatOf: null, ticket: { repeatOf: null, priority: 2 } })

    const history = await t.gateway.database.db.select({ action: ticketHistory.action }).from(ticketHistory).where(eq(ticketHistory.ticketId, ticket.id)).orderBy(ticketHistory.id)
    expect(history.map((h) => h.action)).toEqual(['opened', 'detected', 'reopened'])
  })
})
