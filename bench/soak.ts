import { runLoad, type ConnectedFleet } from '../device-sim/load-generator.js'
import type { FaultClock, FaultFigures } from './fault-clock.js'
import type { SystemUnderTest } from './systems/system.js'

export type SoakResult = {
  minutes: number
  ratePerSecond: number
  handledPerSecond: number
  pubackP99Ms: number
  faults: FaultFigures
  /** RSS of the system's processes, every 10 s. */
  samples: { second: number; rssBytes: number }[]
  /** Mean RSS of the last minute against the mean of the second (the first is warm-up). */
  growthPercent: number
}

/**
 * A constant load for minutes on end, watching memory: rule state, caches and queues must settle,
 * not grow with time. RSS is sampled every 10 s from /proc.
 */
export async function runSoak(system: SystemUnderTest, fleet: ConnectedFleet, clock: FaultClock, opts: {
  qos: 0 | 1; ratePerSecond: number; minutes: number; faultsPerSecond: number; rss(): number; log(line: string): void
}): Promise<SoakResult> {
  clock.reset()
  const samples: SoakResult['samples'] = []
  const before = await system.processed()
  const load = await runLoad({
    fleet, qos: opts.qos, ratePerSecond: opts.ratePerSecond, seconds: opts.minutes * 60,
    payload: clock.payload(fleet.lanes.map((l) => l.id), opts.faultsPerSecond),
    onSecond: (s) => {
      if (s.second % 10 !== 0) return
      samples.push({ second: s.second, rssBytes: opts.rss() })
      if (s.second % 60 === 0) opts.log(`    ${s.second / 60} min: RSS ${(opts.rss() / 2 ** 20).toFixed(0)} MB, ${s.acked} acknowledged`)
    },
  })
  const handled = (await system.processed()) - before
  const mean = (from: number, to: number) => {
    const xs = samples.filter((s) => s.second >= from && s.second < to).map((s) => s.rssBytes)
    return xs.reduce((a, b) => a + b, 0) / xs.length
  }
  const end = opts.minutes * 60
  return {
    minutes: opts.minutes, ratePerSecond: opts.ratePerSecond, handledPerSecond: handled / load.seconds, pubackP99Ms: load.p99Ms,
    faults: clock.reset(), samples,
    growthPercent: (mean(end - 60, end + 1) / mean(60, 120) - 1) * 100,
  }
}
