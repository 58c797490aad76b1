import { existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { connectFleet, runLoad, type LoadResult } from '../device-sim/load-generator.js'
import { stopAll } from './child-process.js'
import { startFaultClock, type FaultClock } from './fault-clock.js'
import { SYSTEMS, type SystemName } from './systems/registry.js'
import type { SystemUnderTest } from './systems/system.js'

const WARM_UP_SECONDS = 5
const PROFILER = fileURLToPath(new URL('./profiler-toggle.cjs', import.meta.url))

/** A profile of the gateway over what the benchmark measures (see bench/profiler-toggle.cjs). */
export type Profiling = { kind: 'allocation' | 'live' | 'promoted' | 'cpu'; file: string }
/** Starts the profiler in the gateway; `stop` stops it and answers the profile once written. */
export type Profiler = { start(): void; stop(): Promise<unknown> }

/** `--env NAME=VALUE` flags as the gateway's environment; exits on a flag that is not NAME=VALUE. */
export function envFromFlags(pairs: string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((pair) => {
    const at = pair.indexOf('=')
    if (at < 1) {
      console.error(`--env takes NAME=VALUE (INGEST_LINGER_MS=10, say), not '${pair}'`)
      process.exit(2)
    }
    return [pair.slice(0, at), pair.slice(at + 1)]
  }))
}

/**
 * A system of the bench (precall on PostgreSQL unless told), `devices` connected, warmed up for 5 s
 * (or `warmUpSeconds`, 0 for none: a system started cold) at `rate` readings/s (QoS 1 unless told,
 * `faults` a second from the bench's fault clock); `body` then loads it at that rate as often as it
 * likes. Stops everything it started, however `body`
 * ends. For the benchmarks that hold one rate. With `profile`, the gateway runs with a profiler
 * that `body` starts and stops around what it measures; `nodeArgs` go to the gateway's node after
 * `npm start`'s own (`--trace-gc`, say), `env` is added to the gateway's environment
 * (`INGEST_LINGER_MS`, say), and `logFile` gets everything the gateway prints (those four are
 * precall's alone).
 */
export async function withSystemAtRate<T>(
  opts: {
    system?: SystemName; devices: number; rate: number; faults: number; qos?: 0 | 1; maxInflightPerDevice?: number; warmUpSeconds?: number
    profile?: Profiling; nodeArgs?: string[]; logFile?: string; env?: Record<string, string>
  },
  body: (run: { system: SystemUnderTest; clock: FaultClock; load(seconds: number): Promise<LoadResult>; profiler: Profiler }) => Promise<T>,
): Promise<T> {
  const clock = await startFaultClock()
  try {
    const profile = opts.profile
    const system = await SYSTEMS[opts.system ?? 'precall-pg'].start({
      devices: opts.devices, alertUrl: clock.url,
      nodeArgs: [...(opts.nodeArgs ?? []), ...(profile ? ['--require', PROFILER] : [])],
      env: { ...opts.env, ...(profile ? { PROFILE_KIND: profile.kind, PROFILE_FILE: profile.file } : {}) },
      logFile: opts.logFile,
    })
    const [pid] = system.pids
    const profiler: Profiler = {
      start: () => { process.kill(pid, 'SIGUSR2') },
      async stop() {
        process.kill(pid, 'SIGUSR2')
        for (let waited = 0; !existsSync(profile!.file); waited += 100) {
          if (waited > 10_000) throw new Error(`the gateway wrote no ${profile!.kind} profile`)
          await sleep(100)
        }
        await sleep(200)
        const written = JSON.parse(readFileSync(profile!.file, 'utf8')) as { error?: string }
        if (written.error) throw new Error(`${profile!.kind} profiling failed: ${written.error}`)
        return written
      },
    }
    try {
      const fleet = await connectFleet({ url: system.mqttUrl, devices: system.devices })
      try {
        const ids = fleet.lanes.map((l) => l.id)
        const load = (seconds: number) => runLoad({ fleet, qos: opts.qos ?? 1, ratePerSecond: opts.rate, seconds, maxInflightPerDevice: opts.maxInflightPerDevice, payload: clock.payload(ids, opts.faults) })
        const warmUp = opts.warmUpSeconds ?? WARM_UP_SECONDS
        if (warmUp > 0) await load(warmUp)
        return await body({ system, clock, load, profiler })
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
