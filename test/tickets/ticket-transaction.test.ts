import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database, Tx } from '../../gateway/db/database.js'
import { outbox, ticketHistory, tickets, webhookSubscriptions } from '../../gateway/db/schema.js'
import { ticketTransaction, type Queued } from '../../gateway/tickets/ticket-change.js'
import { createNotifyHarness, type NotifyHarness } from '../notify/harness.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'

// The writes a ticket transaction leaves to go out with its COMMIT (`alongside`, and `record` not
// waited for) commit with it or not at all, on either backend.
describe.each(BACKENDS)('ticket transactions on %s', (backend) => {
  let database: Database
  let h: NotifyHarness
  const at = new Date(Date.UTC(2026, 10, 24, 10))
  beforeAll(async () => {
    database = await openTestDatabase(backend)
    h = createNotifyHarness(database, { start: at.getTime() })
    await database.db.insert(webhookSubscriptions).values({ id: 'sub-crm', url: 'http://127.0.0.1:9/hook', events: ['ticket.updated'], secrets: [{ secret: 'whsec_test', expiresAt: null }] })
  })
  afterAll(async () => {
    await h.close()
    await database.close()
  })

  async function ticket() {
    return h.openTicket(await h.customer({ channels: [] }), { notifyCustomer: false })
  }

  /** Retitles `row`, recording the change without waiting for it, and leaves `extra` to COMMIT. */
  function retitle(row: Awaited<ReturnType<typeof ticket>>, handed: Queued[], extra: (tx: Tx) => PromiseLike<unknown>) {
    return ticketTransaction(database, { onOutbox: (q) => handed.push(q) }, at, async (tx, record, alongside) => {
      const [updated] = await tx.update(tickets).set({ title: 'Drain pump blocked', version: row.version + 1 }).where(eq(tickets.id, row.id)).returning()
      alongside(extra(tx))
      void record({ ticket: updated, at, actor: 'test', action: 'retitled', event: 'ticket.updated' })
      return updated
    })
  }

  const historyOf = (id: string) => database.db.select().from(ticketHistory).where(eq(ticketHistory.ticketId, id))
  const outboxOf = (id: string) => database.db.select().from(outbox).where(eq(outbox.ticketId, id))

  it('commits what was left to COMMIT with the change, and then hands its webhooks over', async () => {
    const row = await ticket()
    const handed: Queued[] = []
    await retitle(row, handed, (tx) => tx.update(tickets).set({ severity: 'critical' }).where(eq(tickets.id, row.id)))
    const [stored] = await database.db.select().from(tickets).where(eq(tickets.id, row.id))
    expect(stored).toMatchObject({ title: 'Drain pump blocked', severity: 'critical' })
    expect((await historyOf(row.id)).map((e) => e.action)).toEqual(['retitled'])
    const queued = await outboxOf(row.id)
    expect(queued.map((m) => m.eventType)).toEqual(['ticket.updated'])
    expect(handed.map((q) => q.rows.map((r) => r.id))).toEqual([[queued[0].id]])
  })

  it('hands over every leased webhook of a transaction of several changes with the subscriptions to send them', async () => {
    const [a, b] = [await ticket(), await ticket()]
    const handed: Queued[] = []
    const lease = { workerId: 'here', until: new Date(at.getTime() + 30_000) }
    await ticketTransaction(database, { outboxLease: () => lease, onOutbox: (q) => handed.push(q) }, at, async (tx, record) => {
      for (const row of [a, b]) {
        const [updated] = await tx.update(tickets).set({ version: row.version + 1 }).where(eq(tickets.id, row.id)).returning()
        void record({ ticket: updated, at, actor: 'test', action: 'touched', event: 'ticket.updated' })
      }
    })
    expect(handed).toHaveLength(1)
    expect(handed[0].rows.map((r) => [r.ticketId, r.lockedBy])).toEqual([[a.id, 'here'], [b.id, 'here']])
    expect(handed[0].subscriptions.map((s) => s.id)).toEqual(['sub-crm'])
  })

  it('tells how many customer messages it queued, so the notifier is woken only for some', async () => {
    const customer = await h.customer({ channels: [] })
    const [told, silent] = [await h.openTicket(customer, { notifyCustomer: true }), await h.openTicket(customer, { notifyCustomer: false })]
    const handed: Queued[] = []
    await ticketTransaction(database, { onOutbox: (q) => handed.push(q) }, at, async (tx, record) => {
      // A resolution goes to a customer who was told of the ticket, not to one who never heard of it.
      for (const row of [told, silent]) {
        const [resolved] = await tx.update(tickets).set({ status: 'resolved', resolvedAt: at, version: row.version + 1 }).where(eq(tickets.id, row.id)).returning()
        void record({ ticket: resolved, at, actor: 'test', action: 'status', fromStatus: row.status, event: 'ticket.resolved' })
      }
    })
    await ticketTransaction(database, { onOutbox: (q) => handed.push(q) }, at, async (tx, record) => {
      const [updated] = await tx.update(tickets).set({ title: 'Seal worn', version: silent.version + 2 }).where(eq(tickets.id, silent.id)).returning()
      void record({ ticket: updated, at, actor: 'test', action: 'retitled', event: 'ticket.updated' })
    })
    expect(handed.map((q) => q.notifications)).toEqual([1, 0])
  })

  it('rolls the whole change back when a write left to COMMIT fails, rejects with its error, and hands nothing over', async () => {
    const row = await ticket()
    const handed: Queued[] = []
    await expect(retitle(row, handed, (tx) => tx.execute(sql`select 1 / 0`))).rejects.toMatchObject({ cause: { code: '22012' } }) // division_by_zero
    const [stored] = await database.db.select().from(tickets).where(eq(tickets.id, row.id))
    expect(stored.title).toBe(row.title)
    expect(await historyOf(row.id)).toEqual([])
    expect(await outboxOf(row.id)).toEqual([])
    expect(handed).toEqual([])
  })

  it('refuses a statement given to it after it ended, rather than running it outside', async () => {
    const row = await ticket()
    let ended: Tx | undefined
    await ticketTransaction(database, {}, at, async (tx) => { ended = tx })
    await expect(ended!.update(tickets).set({ title: 'late' }).where(eq(tickets.id, row.id))).rejects.toThrow()
    const [stored] = await database.db.select().from(tickets).where(eq(tickets.id, row.id))
    expect(stored.title).toBe(row.title)
  })
})
