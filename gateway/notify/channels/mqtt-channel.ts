import { customerNotificationsTopic, deviceNoticeTopic } from '../../mqtt-topics.js'
import type { ChannelAdapter, MqttPublish, OutgoingMessage, SendResult } from './channel.js'

/**
 * The manufacturer's app listens on `customers/<id>/notifications`: QoS 1, retained, so an app that
 * connects later still finds the latest message. With `deviceNotice`, the appliance's own display
 * gets it too on `devices/<id>/commands/notice` (the topic a device may subscribe to).
 */
export function createMqttChannel(opts: { publish: MqttPublish; deviceNotice: boolean; now: () => number }): ChannelAdapter {
  return {
    async send(m: OutgoingMessage): Promise<SendResult> {
      const payload = JSON.stringify({
        messageId: m.messageId, customerId: m.customerId, ticketId: m.ticketId, deviceId: m.deviceId, kind: m.kind,
        urgent: m.urgent, locale: m.locale, title: m.subject, body: m.body, sentAt: new Date(opts.now()).toISOString(),
      })
      try {
        await opts.publish(customerNotificationsTopic(m.customerId), payload, { qos: 1, retain: true })
        if (opts.deviceNotice && m.deviceId) await opts.publish(deviceNoticeTopic(m.deviceId), payload, { qos: 1, retain: true })
        return { outcome: 'sent', providerMessageId: null }
      } catch (err) {
        return { outcome: 'retry', error: `mqtt publish failed: ${(err as Error).message}` }
      }
    },
    async close() {},
  }
}
