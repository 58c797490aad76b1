import mqtt, { type MqttClient } from 'mqtt'
import type { SimItem } from './device-stream.js'

export type LaneStats = {
  connected: number
  sent: number
  acked: number
  failed: number
  unexpectedCloses: number
}

export function createLaneStats(): LaneStats {
  return { connected: 0, sent: 0, acked: 0, failed: 0, unexpectedCloses: 0 }
}

/**
 * One device's own MQTT connection (its id and secret, last will `offline`) and the queue of what
 * it still has to do. Publishes are pipelined up to `window` unacknowledged messages — MQTT keeps
 * them in order on one connection (3.1.1 §4.6) — and a connection change waits until everything
 * before it is acknowledged, so what the gateway stores does not depend on timing.
 */
export function createDeviceLane(opts: { deviceId: string; secret: string; mqttUrl: string; qos: 0 | 1; window: number; stats: LaneStats; keepaliveS?: number }) {
  const { deviceId, stats } = opts
  const queue: SimItem[] = []
  let client: MqttClient | undefined
  // Clients we are closing on purpose; any other close is the broker or the network dropping us.
  const closing = new WeakSet<MqttClient>()
  let lastError: Error | undefined
  let inflight = 0
  let pumping = false
  let wakers: (() => void)[] = []
  const wake = () => {
    const w = wakers
    wakers = []
    for (const f of w) f()
  }
  const nextWake = () => new Promise<void>((resolve) => wakers.push(resolve))

  async function connect(): Promise<void> {
    const c = await mqtt.connectAsync(opts.mqttUrl, {
      clientId: deviceId, username: deviceId, password: opts.secret,
      protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: opts.keepaliveS ?? 60, connectTimeout: 30_000,
      will: { topic: `devices/${deviceId}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    stats.connected++
    c.once('close', () => {
      stats.connected--
      if (!closing.has(c) && client === c) {
        stats.unexpectedCloses++
        client = undefined
      }
      wake()
    })
    c.on('error', () => { /* surfaced as a close; a publish callback reports its own failure */ })
    client = c
  }

  async function settle() {
    while (inflight > 0) await nextWake()
  }

  async function apply(item: Exclude<SimItem, { kind: 'publish' }>) {
    await settle()
    const c = client
    if (item.kind === 'connect') {
      if (!c) await connect()
      return
    }
    client = undefined
    if (!c) return
    closing.add(c)
    if (item.kind === 'disconnect') {
      await c.endAsync()
    } else {
      // Wi-Fi gone: the socket dies without DISCONNECT, so the broker publishes the last will.
      c.stream.destroy()
      await c.endAsync(true).catch(() => {})
    }
  }

  async function pump() {
    if (pumping) return
    pumping = true
    try {
      while (queue.length > 0) {
        const item = queue[0]
        if (item.kind !== 'publish') {
          queue.shift()
          await apply(item)
          continue
        }
        if (!client) await connect() // the broker closed us unexpectedly: come back, as firmware does
        if (inflight >= (opts.qos === 1 ? opts.window : opts.window * 4)) {
          await nextWake()
          continue
        }
        queue.shift()
        inflight++
        stats.sent++
        client!.publish(item.topic, item.payload, { qos: opts.qos, retain: item.retain }, (err) => {
          inflight--
          if (err) stats.failed++
          else stats.acked++
          wake()
        })
      }
    } finally {
      pumping = false
      wake()
    }
  }

  return {
    deviceId,
    connect,
    push(items: SimItem[]) {
      queue.push(...items)
      void pump().catch((err) => {
        stats.failed += queue.length
        queue.length = 0
        lastError = err as Error
      })
    },
    get backlog() {
      return queue.length + inflight
    },
    get error() {
      return lastError
    },
    /** Resolves once everything pushed so far has been published and acknowledged. */
    async idle() {
      while (pumping || queue.length > 0 || inflight > 0) await nextWake()
    },
    async close() {
      await settle()
      const c = client
      client = undefined
      if (c) {
        closing.add(c)
        await c.endAsync(true).catch(() => {})
      }
    },
  }
}

export type DeviceLane = ReturnType<typeof createDeviceLane>
