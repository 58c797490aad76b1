import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import type { tickets } from '../../gateway/db/schema.js'
import { enqueueCustomerNotification, notificationDue } from '../../gateway/notify/notification-outbox.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { createNotifyHarness } from './harness.js'

type TicketRow = typeof tickets.$inferSelect
const T0 = Date.parse('2026-11-02T02:00:00Z')
const base = {
  id: 'tkt_x', customerId: 'c-1', status: 'open', severity: 'major', notifyCustomer: true, source: 'detection', version: 1,
  appointmentAt: null, technician: null, dispatchedAt: null, resolvedAt: null, nextEscalationAt: new Date(T0), escalationLevel: 0,
} as unknown as TicketRow
const with_ = (over: Partial<TicketRow>) => ({ ...base, ...over }) as TicketRow

describe('which ticket changes the customer hears about', () => {
  it.each([
    ['opened, notify', with_({}), 'ticket.opened', 'opened', 'tkt_x:opened', false],
    ['opened, critical', with_({ severity: 'critical' }), 'ticket.opened', 'opened', 'tkt_x:opened', true],
    ['opened, rule does not notify', with_({ notifyCustomer: false }), 'ticket.opened', 'opened', null, false],
    ['opened, no customer', with_({ customerId: null }), 'ticket.opened', 'opened', null, false],
    ['detected again', with_({ version: 2 }), 'ticket.updated', 'detected', null, false],
    ['acknowledged', with_({ status: 'acknowledged' }), 'ticket.updated', 'status', null, false],
    ['dispatched with a time', with_({ status: 'dispatched', appointmentAt: new Date(T0 + 86_400_000) }), 'ticket.updated', 'status', 'tkt_x:appointment:2026-11-03T02:00:00.000Z', false],
    ['dispatched, technician only', with_({ status: 'dispatched', technician: 'Zhang' }), 'ticket.updated', 'status', 'tkt_x:appointment:unscheduled', false],
    ['dispatched, complaint ticket', with_({ status: 'dispatched', technician: 'Zhang', notifyCustomer: false }), 'ticket.updated', 'status', 'tkt_x:appointment:unscheduled', false],
    ['comment while dispatched', with_({ status: 'dispatched', technician: 'Zhang' }), 'ticket.updated', 'updated', 'tkt_x:appointment:unscheduled', false],
    ['escalated, more levels to come', with_({ escalationLevel: 1 }), 'ticket.escalated', 'escalated', null, false],
    ['escalated past the last level', with_({ escalationLevel: 3, nextEscalationAt: null }), 'ticket.escalated', 'escalated', 'tkt_x:escalated:3', false],
    ['escalated, customer never told', with_({ escalationLevel: 3, nextEscalationAt: null, notifyCustomer: false }), 'ticket.escalated', 'escalated', null, false],
    ['resolved', with_({ status: 'resolved', resolvedAt: new Date(T0) }), 'ticket.resolved', 'status', `tkt_x:resolved:${T0}`, false],
    ['resolved, complaint', with_({ status: 'resolved', resolvedAt: new Date(T0), notifyCustomer: false, source: 'contact' }), 'ticket.resolved', 'status', `tkt_x:resolved:${T0}`, false],
    ['resolved, silent rule', with_({ status: 'resolved', resolvedAt: new Date(T0), notifyCustomer: false }), 'ticket.resolved', 'status', null, false],
    ['reopened', with_({ status: 'reopened', version: 5 }), 'ticket.reopened', 'reopened', 'tkt_x:reopened:v5', false],
    ['auto-closed', with_({ status: 'closed' }), 'ticket.updated', 'auto_closed', null, false],
    ['contact linked', with_({}), null, 'contact', null, false],
  ] as const)('%s', (_name, ticket, event, action, key, urgent) => {
    const due = notificationDue({ ticket, event, action })
    expect(due?.dedupKey ?? null).toBe(key)
    if (due) expect(due.urgent).toBe(urgent)
  })
})

describe.each(BACKENDS)('enqueue on %s', (backend) => {
  let database: Database
  beforeAll(async () => { database = await openTestDatabase(backend) })
  afterAll(async () => { await database.close() })

  it('queues one message per state change, however often and concurrently the change is recorded', async () => {
    const h = createNotifyHarness(database, { start: T0 })
    const c = await h.customer({ channels: [{ type: 'email', address: 'li@example.com', consent: true }] })
    const ticket = await h.openTicket(c)
    const change = { ticket, event: 'ticket.opened' as const, action: 'opened', fromStatus: null, at: new Date(T0) }
    expect(await database.db.transaction((tx) => enqueueCustomerNotification(tx, change))).toBe(false)
    const racing = await Promise.all(Array.from({ length: 5 }, () => database.db.transaction((tx) => enqueueCustomerNotification(tx, change))))
    expect(racing.filter(Boolean)).toHaveLength(0)

    const dispatched = await h.change(ticket, { status: 'dispatched', appointmentAt: new Date(T0 + 86_400_000) }, 'ticket.updated', 'status')
    await h.change(dispatched, { technician: 'Zhang San' }, 'ticket.updated', 'updated') // same appointment: nothing new
    await h.change(dispatched, { appointmentAt: new Date(T0 + 2 * 86_400_000) }, 'ticket.updated', 'updated') // moved: tell again
    const rows = await h.messagesOf(c.customerId)
    expect(rows.map((r) => [r.kind, r.status])).toEqual([['opened', 'queued'], ['appointment', 'queued'], ['appointment', 'queued']])
    expect(new Set(rows.map((r) => r.messageId)).size).toBe(3)
    expect(rows[0].payload).toMatchObject({ id: ticket.id, status: 'open' })
  })
})
