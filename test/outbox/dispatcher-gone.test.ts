import { describe, expect, it } from 'vitest'
import { BACKENDS } from '../support/databases.js'
import { useDispatchTestBed } from './harness.js'
import { startReceiver } from './receiver.js'

describe.each(BACKENDS)('dispatcher: endpoints that refuse (%s)', (backend) => {
  const bed = useDispatchTestBed(backend)

  it('disables a subscription that answers 410 and cancels what it still owed', async () => {
    bed.receiver.script([{ status: 410 }])
    const { subscription } = await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['*'] })
    const healthy = await startReceiver()
    try {
      await bed.h.subscriptions.create({ url: healthy.url, events: ['ticket.opened'] })
      await bed.h.enqueue('t-b1', 'ticket.opened')
      await bed.h.enqueue('t-b1', 'ticket.updated')
      await bed.h.enqueue('t-b2', 'ticket.opened')
      const dispatcher = bed.h.dispatcher()

      await dispatcher.runOnce()
      expect(bed.receiver.received).toHaveLength(1) // t-b2 was claimed too, but cancelled before its turn
      expect(healthy.received).toHaveLength(2)
      expect(await bed.h.subscriptions.get(subscription.id)).toMatchObject({ enabled: false, disabledReason: 'receiver answered 410 Gone' })
      const gone = (await bed.h.outbox.listDeliveries({ subscriptionId: subscription.id })).reverse()
      expect(gone.map((d) => [d.ticketId, d.eventType, d.status])).toEqual([
        ['t-b1', 'ticket.opened', 'dead'], ['t-b1', 'ticket.updated', 'cancelled'], ['t-b2', 'ticket.opened', 'cancelled'],
      ])
      expect(gone[0]).toMatchObject({ lastError: 'receiver answered 410 Gone', attempts: 1 })
      expect(await bed.h.deliveryCount('gone')).toBe(1)

      bed.h.advance(86_400_000)
      expect(await bed.h.enqueue('t-b3')).toBe(1) // only the healthy subscription still listens
      expect(await dispatcher.runOnce()).toBe(1)
      expect(bed.receiver.received).toHaveLength(1)
    } finally {
      await healthy.close()
    }
  })

  it('refuses to connect to a private address at delivery time unless allowed', async () => {
    // Created while private addresses were allowed; the dispatcher's policy is what counts at send time.
    await bed.h.subscriptions.create({ url: bed.receiver.url, events: ['ticket.opened'] })
    await bed.h.enqueue('t-ssrf')
    expect(await bed.h.dispatcher({ allowPrivateAddresses: false }).runOnce()).toBe(1)
    expect(bed.receiver.received).toHaveLength(0)
    const [delivery] = await bed.h.deliveriesOf('t-ssrf')
    expect(delivery.status).toBe('dead')
    expect(delivery.lastError).toMatch(/private address 127\.0\.0\.1/)
    expect(delivery.attemptLog.map((a) => a.outcome)).toEqual(['give_up'])
  })
})
