/** One message, rendered for one channel and address. */
export type OutgoingMessage = {
  messageId: string
  customerId: string
  ticketId: string | null
  deviceId: string | null
  kind: string
  urgent: boolean
  channel: string
  address: string
  locale: string
  subject: string
  body: string
  unsubscribeUrl: string | null
}

/**
 * How one try on one channel ended. `retry`: this channel may work later (timeout, 5xx, SMTP 4xx);
 * `give_up`: it will not work for this message (refused address, 4xx, SMTP 5xx). Either way the
 * notifier falls over to the next channel at once.
 */
export type SendResult =
  | { outcome: 'sent'; providerMessageId?: string | null; statusCode?: number }
  | { outcome: 'retry'; error: string; statusCode?: number }
  | { outcome: 'give_up'; error: string; statusCode?: number }

export type ChannelAdapter = {
  send(message: OutgoingMessage): Promise<SendResult>
  close(): Promise<void>
}

export type MqttPublish = (topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>
