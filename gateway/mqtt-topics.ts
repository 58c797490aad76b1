/**
 * The MQTT topics of precall's contract (README, MQTT), in one place for the broker's ACL, ingest
 * and the notify channel:
 * - a device publishes on `devices/<id>/<channel>` (telemetry, events, status);
 * - it may subscribe under `devices/<id>/commands/`, where the gateway publishes to it;
 * - the manufacturer's app reads `customers/<id>/notifications`;
 * - gateway instances behind an external broker share `devices/+/+`.
 */

// Several gateway instances share the stream through one shared subscription (MQTT 5 §4.8.2).
export const SHARED_DEVICE_TOPICS = '$share/precall/devices/+/+'

const DEVICE_TOPIC = /^devices\/([^/]+)\/([^/]+)$/

/** Parses `devices/<id>/<channel>`; undefined for anything else. */
export function parseDeviceTopic(topic: string): { deviceId: string; channel: string } | undefined {
  const m = DEVICE_TOPIC.exec(topic)
  return m ? { deviceId: m[1]!, channel: m[2]! } : undefined
}

export function deviceTopic(deviceId: string, channel: string): string {
  return `devices/${deviceId}/${channel}`
}

/** Where the gateway shows a notification on the appliance's own display. */
export function deviceNoticeTopic(deviceId: string): string {
  return `devices/${deviceId}/commands/notice`
}

/** A device may subscribe to its own commands: `devices/<id>/commands/#` or a topic under it. */
export function isOwnCommandsFilter(deviceId: string, filter: string): boolean {
  return filter.startsWith(`devices/${deviceId}/commands/`)
}

export function customerNotificationsTopic(customerId: string): string {
  return `customers/${customerId}/notifications`
}

/** An app may subscribe to every customer's notifications (`customers/+/notifications`) or one customer's. */
export function isNotificationsFilter(filter: string): boolean {
  const levels = filter.split('/')
  if (levels.length !== 3 || levels[0] !== 'customers' || levels[2] !== 'notifications') return false
  const customer = levels[1]!
  return customer === '+' || (customer.length > 0 && !customer.includes('#') && !customer.includes('+'))
}
