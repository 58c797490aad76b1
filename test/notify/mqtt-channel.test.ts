import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import type { MqttPublish } from '../../gateway/notify/channels/channel.js'
import { createNotifier } from '../../gateway/notify/notifier.js'
import { DEFAULT_NOTIFY_CONFIG } from '../../gateway/notify/notify-config.js'
import { openTestDatabase } from '../support/databases.js'
import { createNotifyHarness } from './harness.js'

const NOON = Date.parse('2026-11-02T04:00:00Z')

describe('mqtt channel', () => {
  let database: Database
  let broker: Aedes
  let server: ReturnType<typeof createServer>
  let url: string
  beforeAll(async () => {
    database = await openTestDatabase('pglite')
    broker = await Aedes.createBroker()
    server = createServer(broker.handle)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await database.close()
  })

  it('publishes to the customer\'s app topic (QoS 1, retained) and to the appliance\'s display', async () => {
    // What the gateway wires in: the embedded broker's own publish.
    const publish: MqttPublish = (topic, payload, opts) => new Promise((resolve, reject) => {
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: opts.qos, retain: opts.retain, dup: false }, (err) => (err ? reject(err) : resolve()))
    })
    const h = createNotifyHarness(database, { start: NOON })
    const c = await h.customer({ locale: 'zh-CN', channels: [{ type: 'mqtt', address: 'app', consent: true }] })
    const ticket = await h.openTicket(c, { title: '排水泵堵塞' })
    const notifier = createNotifier({ database, log: pino({ level: 'silent' }), now: h.now, publishMqtt: publish, config: { ...DEFAULT_NOTIFY_CONFIG, deviceNotice: true } })
    try {
      expect(await notifier.runOnce()).toBe(1)
      // An app that connects afterwards still gets the latest message: it was retained.
      const app = await mqtt.connectAsync(url, { clientId: 'app-1', reconnectPeriod: 0 })
      const got: { topic: string; payload: any; retain: boolean; qos: number }[] = []
      app.on('message', (topic, payload, packet) => got.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain, qos: packet.qos }))
      await app.subscribeAsync([`customers/${c.customerId}/notifications`, `devices/${c.deviceId}/commands/notice`], { qos: 1 })
      await expect.poll(() => got.length).toBe(2)
      await app.endAsync()
      const [message] = await notifier.messages.list({ customerId: c.customerId })
      expect(message).toMatchObject({ status: 'sent', channel: 'mqtt' })
      expect(got.map((g) => [g.topic, g.retain, g.qos]).sort()).toEqual([
        [`customers/${c.customerId}/notifications`, true, 1], [`devices/${c.deviceId}/commands/notice`, true, 1],
      ])
      expect(got[0].payload).toMatchObject({ messageId: message.messageId, ticketId: ticket.id, kind: 'opened', locale: 'zh-CN', title: 'Washing machine WM-8：排水泵堵塞' })
    } finally {
      await notifier.stop()
    }
  })
})
