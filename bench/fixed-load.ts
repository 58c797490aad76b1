import { connectFleet, runLoad, type LoadResult } from '../device-sim/load-generator.js'
import { stopAll } from './child-process.js'
import { startFaultClock, type FaultClock } from './fault-clock.js'
import { startPrecall } from './systems/precall.js'
import type { SystemContext, SystemUnderTest } from './systems/system.js'

const WARM_UP_SECONDS = 5

/**
 * precall on PostgreSQL, `devices` connected, warmed up for 5 s at `rate` readings/s (QoS 1 unless told,
 * `faults` a second from the bench's fault clock); `body` then loads it at that rate as often as it
 * likes. Stops everything it started, however `body` ends. For the benchmarks that hold one rate.
 */
export async function withPrecallAtRate<T>(
  opts: { devices: number; rate: number; faults: number; qos?: 0 | 1 } & Pick<SystemContext, 'nodeArgs' | 'env'>,
  body: (run: { system: SystemUnderTest; clock: FaultClock; load(seconds: number): Promise<LoadResult> }) => Promise<T>,
): Promise<T> {
  const clock = await startFaultClock()
  try {
    const system = await startPrecall({ devices: opts.devices, alertUrl: clock.url, nodeArgs: opts.nodeArgs, env: opts.env }, 'postgres')
    try {
      const fleet = await connectFleet({ url: system.mqttUrl, devices: system.devices })
      try {
        const ids = fleet.lanes.map((l) => l.id)
        const load = (seconds: number) => runLoad({ fleet, qos: opts.qos ?? 1, ratePerSecond: opts.rate, seconds, payload: clock.payload(ids, opts.faults) })
        await load(WARM_UP_SECONDS)
        return await body({ system, clock, load })
      } finally {
        await fleet.close()
      }
    } finally {
      await system.stop()
    }
  } finally {
    await stopAll()
    await clock.close()
  }
}
