import { setTimeout as sleep } from 'node:timers/promises'
import type { Climate } from './climate.js'
import { createLaneStats, createDeviceLane, type DeviceLane, type LaneStats } from './device-lane.js'
import { createDeviceStream, type SimItem } from './device-stream.js'
import { mapBounded } from './map-bounded.js'
import type { FleetPlan } from './plan-fleet.js'
import { PROFILES } from './profiles/profiles.js'
import { deviceTypeById, type Catalogue } from './read-catalogue.js'
import type { Recorder } from './recorder.js'

export type FleetStats = LaneStats & {
  devices: number
  /** Event time the fleet has reached. */
  simNow: number
  faultsStarted: number
  faultsTotal: number
  backlog: number
  recorded: number
}

export type RunFleetOptions = {
  plan: FleetPlan
  catalogue: Catalogue
  climate: Climate
  /** Simulated ms per wall ms, or 'max': as fast as the gateway acknowledges. */
  speed: number | 'max'
  /** Omit for a dry run: generate (and record) without a gateway. */
  mqtt?: { url: string; secrets: Map<string, string>; qos: 0 | 1; window?: number; connectParallel?: number }
  intervalMs?: number
  endStatus?: 'powered_off' | 'none'
  recorder?: Recorder
  /** Called with each batch in event-time order, before it is published. */
  onBatch?(items: readonly SimItem[], stats: FleetStats): void
  signal?: AbortSignal
  /** A live object to update (e.g. one a progress line reads); a new one otherwise. */
  stats?: FleetStats
}

export function createFleetStats(plan: FleetPlan): FleetStats {
  return {
    ...createLaneStats(), devices: plan.devices.length, simNow: plan.start,
    faultsStarted: 0, faultsTotal: plan.devices.filter((d) => d.fault).length, backlog: 0, recorded: 0,
  }
}

const REALTIME_TICK_MS = 100

/**
 * Unacknowledged publishes per device: deep pipelines let a small fleet keep the gateway's group
 * commit busy, while a big fleet keeps the broker's total queue near 4k (aedes slows sharply
 * past ~16k queued messages).
 */
export function defaultWindow(devices: number): number {
  return Math.max(2, Math.min(32, Math.floor(4096 / Math.max(1, devices))))
}
const MAX_CHUNK_MS = 3_600_000
// In 'max' mode generation waits while this many messages are queued, so memory stays flat.
const HIGH_WATER = 20_000

/**
 * Plays a planned fleet: connects every device as its own MQTT client, then advances event time
 * (paced by `speed`, or as fast as acknowledgements come back) and publishes each device's items
 * in order. Items are merged across devices by (ts, device order), so a recording is identical
 * for the same plan however fast the run went.
 */
export async function runFleet(o: RunFleetOptions): Promise<FleetStats> {
  const { plan } = o
  const stats = o.stats ?? createFleetStats(plan)
  const streams = plan.devices.map((d) => createDeviceStream(d, {
    start: plan.start, end: plan.end, climate: o.climate, intervalMs: o.intervalMs, endStatus: o.endStatus ?? 'powered_off',
    type: deviceTypeById(o.catalogue, PROFILES[d.profile].typeId),
  }))
  const faultStarts = plan.devices.flatMap((d) => (d.fault ? [d.fault.startAt] : [])).sort((a, b) => a - b)

  let lanes: DeviceLane[] = []
  const m = o.mqtt
  if (m) {
    lanes = plan.devices.map((d) => {
      const secret = m.secrets.get(d.id)
      if (!secret) throw new Error(`no MQTT secret for ${d.id}; register the fleet first`)
      return createDeviceLane({ deviceId: d.id, secret, mqttUrl: m.url, qos: m.qos, window: m.window ?? defaultWindow(plan.devices.length), stats })
    })
  }

  let cursor = plan.start - 1
  try {
    if (m) {
      await mapBounded(lanes, m.connectParallel ?? 50, (lane) => lane.connect().catch((err: Error) => {
        throw new Error(`${lane.deviceId} could not connect to ${m.url}: ${err.message}`)
      }))
    }
    const wall0 = performance.now()
    while (cursor < plan.end && !o.signal?.aborted) {
      let limit: number
      if (o.speed === 'max') {
        limit = Math.min(plan.end, cursor + MAX_CHUNK_MS)
      } else {
        await sleep(REALTIME_TICK_MS)
        limit = Math.min(plan.end, plan.start + (performance.now() - wall0) * o.speed)
      }
      const batch: { item: SimItem; order: number }[] = []
      streams.forEach((s, order) => { for (const item of s.until(limit)) batch.push({ item, order }) })
      batch.sort((a, b) => a.item.ts - b.item.ts || a.order - b.order)
      const items = batch.map((b) => b.item)
      cursor = limit
      stats.simNow = limit
      while (stats.faultsStarted < faultStarts.length && faultStarts[stats.faultsStarted] <= limit) stats.faultsStarted++
      o.onBatch?.(items, stats)
      o.recorder?.write(items)
      stats.recorded = o.recorder?.lines ?? 0
      if (lanes.length > 0) {
        const perLane = new Map<number, SimItem[]>()
        for (const b of batch) (perLane.get(b.order) ?? perLane.set(b.order, []).get(b.order)!).push(b.item)
        for (const [order, list] of perLane) lanes[order].push(list)
        stats.backlog = lanes.reduce((n, l) => n + l.backlog, 0)
        if (o.speed === 'max') {
          while (stats.backlog > HIGH_WATER) {
            await sleep(5)
            stats.backlog = lanes.reduce((n, l) => n + l.backlog, 0)
          }
        }
      }
    }
    await Promise.all(lanes.map((l) => l.idle()))
    const failed = lanes.find((l) => l.error)
    if (failed) throw new Error(`${failed.deviceId}: ${failed.error!.message}`)
  } finally {
    await Promise.all(lanes.map((l) => l.close()))
    stats.backlog = 0
  }
  return stats
}
