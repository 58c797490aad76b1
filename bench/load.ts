import mqtt, { type MqttClient } from 'mqtt'

export type LoadResult = { devices: number; qos: 0 | 1; seconds: number; acked: number; perSecond: number; p50Ms: number; p99Ms: number }

/**
 * Offers QoS 1 (or 0) telemetry from `devices` real MQTT clients, each keeping `window` publishes in
 * flight, for `seconds`; counts acknowledgements and records publish→PUBACK latency.
 */
export async function runLoad(opts: {
  url: string
  devices: { id: string; secret?: string }[]
  seconds: number
  window?: number
  qos?: 0 | 1
  payload?: (deviceIndex: number, seq: number) => string
}): Promise<LoadResult> {
  const window = opts.window ?? 8
  const qos = opts.qos ?? 1
  const payload = opts.payload ?? ((i, seq) => JSON.stringify({ ts: Date.now(), seq, metrics: { drain_time_s: 40 + (seq % 20) } }))
  const clients: MqttClient[] = []
  for (let i = 0; i < opts.devices.length; i += 50) {
    clients.push(...await Promise.all(opts.devices.slice(i, i + 50).map((d) => mqtt.connectAsync(opts.url, {
      clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0, keepalive: 120,
    }))))
  }
  const latencies: number[] = []
  let acked = 0
  let stop = false
  const started = performance.now()
  await Promise.all(clients.map(async (client, i) => {
    const topic = `devices/${opts.devices[i].id}/telemetry`
    let seq = 0
    const lane = async () => {
      while (!stop) {
        const sent = performance.now()
        await client.publishAsync(topic, payload(i, seq++), { qos })
        if (stop) break
        acked++
        if ((acked & 7) === 0) latencies.push(performance.now() - sent)
      }
    }
    const timer = setTimeout(() => { stop = true }, opts.seconds * 1000)
    await Promise.all(Array.from({ length: qos === 1 ? window : 1 }, lane))
    clearTimeout(timer)
  }))
  const seconds = (performance.now() - started) / 1000
  await Promise.all(clients.map((c) => c.endAsync(true)))
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN
  return { devices: clients.length, qos, seconds, acked, perSecond: acked / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) }
}
