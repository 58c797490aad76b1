import { randomBytes } from 'node:crypto'
import { once, type EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import mqtt, { type IClientOptions } from 'mqtt'
import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import { parseDeviceTopic, SHARED_DEVICE_TOPICS } from '../mqtt-topics.js'
import type { Ingest } from './ingest.js'

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
  url: string; ingest: Ingest; log: Logger; topic?: string; clientOptions?: IClientOptions
} & Pick<Config['mqtt'], 'clientId' | 'receiveMaximum' | 'sessionExpirySeconds'>) {
  // The session — the subscription and what the broker holds for it, unacknowledged or queued
  // while the gateway is away — lives on after the connection for the expiry interval (MQTT 5
  // §3.1.2.11.2; 0 would end it with the connection), and is resumed under the same client id.
  // Under a generated id nobody can resume it after this process: it ends on shutdown, and after
  // a crash it expires soon (the config's shorter default), so that a share of the stream does not
  // go on being queued for it.
  const clientId = opts.clientId ?? `precall-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const client = mqtt.connect(opts.url, {
    clientId,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 1000,
    handleMessageConcurrency: opts.receiveMaximum,
    properties: { receiveMaximum: opts.receiveMaximum, sessionExpiryInterval: opts.sessionExpirySeconds },
    ...opts.clientOptions,
  })
  // Set before the connection is up: a resumed session's queued messages come right behind CONNACK,
  // and MQTT.js's own handler would acknowledge them unstored.
  client.handleMessage = (packet, done) => {
    const target = parseDeviceTopic(packet.topic)
    if (!target) return done()
    opts.ingest.ingest(target.deviceId, target.channel, packet.topic, packet.payload as Buffer, (err) => {
      if (err === null) return done()
      // No PUBACK, and the connection is dropped: a broker sends what is unacknowledged again only
      // when the session resumes (MQTT 5 §4.4), which the reconnect does. As with the embedded
      // broker, where aedes drops a device whose publish could not be stored. The rest of a failed
      // batch finds the connection already going (precall_readings_store_failed_total counts them).
      done(err as Error)
      if (client.stream.destroyed) return
      opts.log.error({ err, topic: packet.topic }, 'could not store a message; reconnecting for the broker to send it again')
      client.stream.destroy()
    })
  }
  client.on('connect', (connack) => opts.log.info({ clientId, sessionPresent: connack.sessionPresent }, 'connected to external broker'))
  // As mqtt.connectAsync: an unreachable broker is tried again until it answers; one that refuses
  // (a CONNACK error, which `once` rejects with) fails the start. MqttClient is an EventEmitter
  // whose typed events TypeScript does not match to Node's.
  await once(client as unknown as EventEmitter, 'connect').catch((err: unknown) => {
    client.end(true)
    throw err
  })
  client.on('error', (err) => opts.log.warn({ err: err.message }, 'mqtt subscriber error'))
  client.on('offline', () => opts.log.warn('lost the external broker; reconnecting'))
  await client.subscribeAsync(opts.topic ?? SHARED_DEVICE_TOPICS, { qos: 1 })
  opts.log.info({ url: opts.url.replace(/\/\/[^@]*@/, '//***@'), clientId, sessionExpirySeconds: opts.sessionExpirySeconds }, 'subscribed to external broker')
  return { client, close: () => client.endAsync(false, opts.clientId ? {} : { properties: { sessionExpiryInterval: 0 } }) }
}
