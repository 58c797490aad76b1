import { createLatencyHistogram } from './latency-histogram.js'
import { mapBounded } from './map-bounded.js'
import { connectWire, type WireClient } from './wire-client.js'

export type FleetOptions = {
  url: string
  devices: { id: string; secret?: string }[]
  connectParallel?: number
}

export type LoadOptions = (FleetOptions | { fleet: ConnectedFleet }) & {
  seconds: number
  qos?: 0 | 1
  /** Open loop: total publishes per second across all devices, spread round-robin. */
  ratePerSecond?: number
  /** Closed loop (when no rate): unacknowledged publishes each device keeps in flight (default 8). */
  window?: number
  /** Open loop: a device with this many unacknowledged publishes skips its turn (counted in `skipped`). */
  maxInflightPerDevice?: number
  /** Called for every publish; what it returns is sent (default: a washer reading). */
  payload?: (deviceIndex: number, seq: number) => string
  /** Called about once a second while the load runs. */
  onSecond?(s: { second: number; acked: number; sent: number; inflight: number }): void
}

export type LoadResult = {
  devices: number
  qos: 0 | 1
  seconds: number
  sent: number
  /** Acknowledged within the measured `seconds`. */
  acked: number
  /** Acknowledged after the deadline, while the generator waited for what was in flight. */
  drained: number
  failed: number
  skipped: number
  /** Acknowledged publishes per second (QoS 0: written to the socket). */
  perSecond: number
  offeredPerSecond: number
  targetPerSecond: number | null
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  meanMs: number
  connectSeconds: number
  /** Acknowledgements in each whole second of the run. */
  ackedPerSecond: number[]
}

const TICK_MS = 10

/**
 * Connects every device with its own credentials, a bounded number at a time. The fleet can carry
 * several `runLoad` steps (a stepped benchmark keeps its connections between rates).
 */
export async function connectFleet(opts: FleetOptions) {
  const started = performance.now()
  const clients = new Map<string, WireClient>()
  const closeAll = () => Promise.all([...clients.values()].map((c) => c.end().catch(() => {})))
  try {
    await mapBounded(opts.devices, opts.connectParallel ?? 100, async (d) => {
      clients.set(d.id, await connectWire(opts.url, { clientId: d.id, username: d.id, password: d.secret, timeoutMs: 60_000 }))
    })
  } catch (err) {
    await closeAll()
    throw new Error(`load generator: a device could not connect to ${opts.url}: ${(err as Error).message}`)
  }
  return {
    lanes: opts.devices.map((d) => ({ id: d.id, client: clients.get(d.id)!, topic: `devices/${d.id}/telemetry`, seq: 0, inflight: 0 })),
    connectSeconds: (performance.now() - started) / 1000,
    async close() {
      await closeAll()
    },
  }
}

export type ConnectedFleet = Awaited<ReturnType<typeof connectFleet>>

/**
 * Thousands of device connections from one process, each with its own credentials, offering
 * telemetry at a target rate (open loop) or as fast as acknowledgements return (closed loop).
 * Measures publish→PUBACK latency for every message. Given a connected `fleet`, it loads that
 * fleet and leaves it connected; given `url` and `devices`, it connects and disconnects its own.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const qos = opts.qos ?? 1
  const payload = opts.payload ?? ((_i, seq) => JSON.stringify({ ts: Date.now(), seq, metrics: { drain_time_s: 40 + (seq % 20) } }))
  const fleet = 'fleet' in opts ? opts.fleet : await connectFleet(opts)
  try {
    return await offerLoad(fleet, opts, qos, payload)
  } finally {
    if (!('fleet' in opts)) await fleet.close()
  }
}

async function offerLoad(fleet: ConnectedFleet, opts: LoadOptions, qos: 0 | 1, payload: (deviceIndex: number, seq: number) => string): Promise<LoadResult> {
  const { lanes } = fleet
  const hist = createLatencyHistogram()
  const ackedPerSecond: number[] = []
  let sent = 0, acked = 0, drained = 0, failed = 0, skipped = 0
  let stopping = false
  const started = performance.now()
  const deadline = started + opts.seconds * 1000
  let wakeIdle: (() => void) | undefined

  function publish(i: number, next?: () => void) {
    const lane = lanes[i]
    const t0 = performance.now()
    lane.inflight++
    sent++
    lane.client.publish(lane.topic, payload(i, lane.seq++), qos, (err) => {
      lane.inflight--
      const now = performance.now()
      if (err) failed++
      else {
        hist.record(now - t0)
        if (now <= deadline) {
          acked++
          const second = Math.floor((now - started) / 1000)
          ackedPerSecond[second] = (ackedPerSecond[second] ?? 0) + 1
        } else drained++
      }
      if (next && !stopping) next()
      else if (stopping && sent === acked + drained + failed) wakeIdle?.()
    })
  }

  const reporter = setInterval(() => {
    const second = Math.floor((performance.now() - started) / 1000)
    opts.onSecond?.({ second, acked, sent, inflight: sent - acked - drained - failed })
  }, 1000)
  if (opts.ratePerSecond !== undefined) {
    const cap = opts.maxInflightPerDevice ?? 64
    let issued = 0
    let rr = 0
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now()
        if (now >= deadline) {
          clearInterval(timer)
          resolve()
          return
        }
        // Catch up on what the rate owes, however late this tick fired, so the offered load holds.
        const due = Math.floor(((now - started) / 1000) * opts.ratePerSecond!) - issued
        for (let k = 0; k < due; k++, issued++) {
          const i = rr++ % lanes.length
          if (lanes[i].inflight >= cap) skipped++
          else publish(i)
        }
      }, TICK_MS)
    })
  } else {
    const window = opts.window ?? 8
    const loop = (i: number) => () => { if (performance.now() < deadline) publish(i, loop(i)) }
    lanes.forEach((_, i) => { for (let w = 0; w < (qos === 1 ? window : 1); w++) loop(i)() })
    await new Promise((r) => setTimeout(r, opts.seconds * 1000))
  }
  stopping = true
  const seconds = (performance.now() - started) / 1000
  // Let what is in flight come back (bounded), so the last second is not counted as lost.
  if (sent > acked + drained + failed) await Promise.race([new Promise<void>((r) => { wakeIdle = r }), new Promise((r) => setTimeout(r, 10_000))])
  clearInterval(reporter)
  return {
    devices: lanes.length, qos, seconds, sent, acked, drained, failed, skipped,
    perSecond: acked / seconds, offeredPerSecond: (sent + skipped) / seconds, targetPerSecond: opts.ratePerSecond ?? null,
    p50Ms: hist.percentile(0.5), p90Ms: hist.percentile(0.9), p99Ms: hist.percentile(0.99), maxMs: hist.max(), meanMs: hist.mean(),
    connectSeconds: 'fleet' in opts ? 0 : fleet.connectSeconds, ackedPerSecond: Array.from(ackedPerSecond, (n) => n ?? 0),
  }
}
