import { describe, expect, it } from 'vitest'
import {
  customerNotificationsTopic, deviceNoticeTopic, deviceTopic, isNotificationsFilter, isOwnCommandsFilter, parseDeviceTopic,
} from '../gateway/mqtt-topics.js'

describe('MQTT topics', () => {
  it('parses what it builds for a device, and nothing deeper or shallower', () => {
    expect(parseDeviceTopic(deviceTopic('wm-1', 'telemetry'))).toEqual({ deviceId: 'wm-1', channel: 'telemetry' })
    expect(parseDeviceTopic('devices/wm-1')).toBeUndefined()
    expect(parseDeviceTopic('devices/wm-1/commands/notice')).toBeUndefined()
    expect(parseDeviceTopic('devices//telemetry')).toBeUndefined()
    expect(parseDeviceTopic('customers/c-1/notifications')).toBeUndefined()
  })

  it('lets a device subscribe under its own commands only', () => {
    expect(isOwnCommandsFilter('wm-1', 'devices/wm-1/commands/#')).toBe(true)
    expect(isOwnCommandsFilter('wm-1', deviceNoticeTopic('wm-1'))).toBe(true)
    expect(isOwnCommandsFilter('wm-1', 'devices/wm-2/commands/#')).toBe(false)
    expect(isOwnCommandsFilter('wm-1', 'devices/wm-1/#')).toBe(false)
    expect(isOwnCommandsFilter('wm-1', 'devices/+/commands/#')).toBe(false)
    expect(isOwnCommandsFilter('wm-1', 'devices/wm-1/commands')).toBe(false)
  })

  it("lets an app subscribe to every customer's notifications or one customer's, nothing wider", () => {
    expect(isNotificationsFilter('customers/+/notifications')).toBe(true)
    expect(isNotificationsFilter(customerNotificationsTopic('c-1'))).toBe(true)
    for (const filter of ['customers/#', 'customers/+/#', 'customers/c-1/#', 'customers//notifications', 'customers/c+/notifications', '#', 'customers/c-1/notifications/x', 'devices/+/telemetry']) {
      expect(isNotificationsFilter(filter), filter).toBe(false)
    }
  })
})
