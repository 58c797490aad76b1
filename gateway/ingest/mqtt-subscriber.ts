import mqtt, { type IClientOptions } from 'mqtt'
import type { Logger } from 'pino'
import { parseDeviceTopic, type Ingest } from './ingest.js'

// Several gateway instances share the stream through one shared subscription (MQTT 5 §4.8.2).
export const SHARED_TOPIC = '$share/precall/devices/+/+'

/**
 * Ingest from an external broker (EMQX, HiveMQ, Mosquitto). MQTT.js sends PUBACK only when
 * `handleMessage`'s callback runs, so the reading is committed before the broker lets it go.
 * Device authentication and ACLs are the external broker's job here.
 *
 * Up to `receiveMaximum` messages are stored at once, so they share group commits. Stock MQTT.js
 * hands over the next message only after the last one's callback: one commit a message, ~140
 * readings/s (`npm run bench -- --systems precall-mosquitto`). Our patch
 * (`handleMessageConcurrency`, patches/mqtt+5.16.0.patch) lifts that; the same number, sent as
 * the MQTT 5 Receive Maximum, keeps the broker from sending more unacknowledged than that, so
 * the window is bounded at both ends.
 */
export async function startMqttSubscriber(opts: {
  url: string; ingest: Ingest; log: Logger; receiveMaximum: number; topic?: string; clientOptions?: IClientOptions
}) {
  const client = await mqtt.connectAsync(opts.url, {
    clientId: `precall-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 1000,
    handleMessageConcurrency: opts.receiveMaximum,
    properties: { receiveMaximum: opts.receiveMaximum },
    ...opts.clientOptions,
  })
  client.handleMessage = (packet, done) => {
    const target = parseDeviceTopic(packet.topic)
    if (!target) return done()
    opts.ingest.ingest(target.deviceId, target.channel, packet.topic, packet.payload as Buffer, (err) => {
      if (err === null) return done()
      // No PUBACK: the broker redelivers once the store is back.
      opts.log.error({ err, topic: packet.topic }, 'could not store a message; leaving it unacknowledged')
    })
  }
  await client.subscribeAsync(opts.topic ?? SHARED_TOPIC, { qos: 1 })
  client.on('error', (err) => opts.log.warn({ err: err.message }, 'mqtt subscriber error'))
  opts.log.info({ url: opts.url.replace(/\/\/[^@]*@/, '//***@') }, 'subscribed to external broker')
  return { client, close: () => client.endAsync() }
}
