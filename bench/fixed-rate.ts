/**
 * Fixed-rate benchmark: precall on PostgreSQL held at one offered rate, in rounds, to compare
 * code or settings where the stepped `npm run bench` is too coarse. Per round: what a reading cost
 * the gateway's process and PostgreSQL's (CPU from /proc), everything but this process (as the
 * bench's CPU column), PUBACK p50/p99 and fault→webhook p50/p99.
 *
 *   npm run bench:fixed -- [--system precall-pg] [--devices 1000] [--rate 10000] [--seconds 10] [--rounds 3] [--faults 20] [--qos 1]
 *                          [--inflight 64] [--profile DIR] [--checkpoint] [--node-arg FLAG]… [--env NAME=VALUE]…
 *                          [--log FILE]
 *
 * `--system` loads another system of `npm run bench` instead (ceiling, precall-pglite,
 * mosquitto-pg, node-red): the same figures, with the system's own processes in place of the
 * gateway's, so what a reading costs precall and what it costs, say, bare aedes can be compared at
 * the same load, where the stepped run compares each at its own maximum.
 *
 * `--inflight` caps each device's unacknowledged publishes (the load generator's default, 64): a
 * device at the cap skips its turn, and the round reports how many were skipped. Above the
 * system's maximum, a low cap keeps the backlog out of the system (as devices that wait for their
 * PUBACK would) and a high one lets it pile up inside.
 *
 * Also per round: WAL bytes and full-page images a reading, the whole server's (see WAL_WRITTEN);
 * for precall, the gateway's event-loop delay p99 and max over the round (a long turn delays every
 * round trip waiting on it, and a fault waits for several), and its event loop's thread apart from
 * its other threads: user and kernel CPU a reading, and how often a second it lost its core while
 * runnable (see threadCpu: a CPU profile cannot tell these apart), and the busiest of the others (the
 * broker's, with MQTT_BROKER_THREAD); the system's RSS at the round's end. `--checkpoint` starts each round with
 * a CHECKPOINT, so every round holds the burst of full-page images that follows one, as a long run
 * does every few minutes. `--node-arg` passes a
 * flag to the gateway's node (`--node-arg=--trace-gc`), `--env` sets a variable of the gateway's
 * environment (`--env INGEST_LINGER_MS=10`), `--log` keeps what the gateway prints.
 *
 * Runs `gateway/main.ts` as `npm run bench` does (bench/systems/precall.ts) with the bench's load
 * generator and fault clock, after a 5 s warm-up at the same rate. This VM's figures move by 10–20 %
 * from round to round: alternate the two things compared, several rounds each. A benchmark, not a
 * test: it asserts nothing.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { TEST_DATABASE_URL } from '../test/support/databases.js'
import { envFromFlags, withSystemAtRate } from './fixed-load.js'
import { SYSTEMS, type SystemName } from './systems/registry.js'
import { busiestThreadSince, postgresCpuUs, processCpuUs, processName, rssBytes, startCpuMeter, threadCpu, WAL_WRITTEN, walWritten } from './process-stats.js'

const { values: flags } = parseArgs({
  options: {
    system: { type: 'string', default: 'precall-pg' },
    devices: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    faults: { type: 'string', default: '20' },
    inflight: { type: 'string', default: '64' },
    qos: { type: 'string', default: '1' },
    profile: { type: 'string' },
    checkpoint: { type: 'boolean', default: false },
    'node-arg': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    log: { type: 'string' },
  },
})
const [devices, rate, seconds, rounds, faults, inflight] = [flags.devices, flags.rate, flags.seconds, flags.rounds, flags.faults, flags.inflight].map(Number)
const qos = flags.qos === '0' ? 0 : flags.qos === '1' ? 1 : undefined
const systemName = flags.system as SystemName
if (![devices, rate, seconds, rounds].every((n) => Number.isFinite(n) && n > 0) || !Number.isInteger(inflight) || inflight < 1 || !(faults >= 0) || qos === undefined || !Object.hasOwn(SYSTEMS, systemName)) {
  console.error(`usage: npm run bench:fixed -- [--system ${Object.keys(SYSTEMS).join('|')}] [--devices 1000] [--rate 10000] [--seconds 10] [--rounds 3] [--faults 20] [--qos 1|0] [--inflight 64] [--profile DIR] [--checkpoint] [--node-arg FLAG]… [--env NAME=VALUE]… [--log FILE]`)
  process.exit(2)
}
const { label, alerts } = SYSTEMS[systemName]
const precall = systemName.startsWith('precall')
if (!precall && (flags.profile || flags['node-arg'].length > 0 || flags.env.length > 0 || flags.log)) {
  console.error(`--profile, --node-arg, --env and --log are for precall's gateway; ${label} takes none of them`)
  process.exit(2)
}
const env = envFromFlags(flags.env)
// --profile: a V8 CPU profile of the gateway over the rounds only (npm run bench:profile reads it).
const profileFile = flags.profile && path.resolve(flags.profile, `precall-${devices}-devices-${rate}-qos${qos}-${Date.now()}.cpuprofile`)
if (flags.profile) mkdirSync(flags.profile, { recursive: true })
const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} })
const wal = async () => walWritten((await admin.unsafe(WAL_WRITTEN))[0]!)
await withSystemAtRate({
  system: systemName, devices, rate, faults, qos, maxInflightPerDevice: inflight, profile: profileFile ? { kind: 'cpu', file: profileFile } : undefined,
  nodeArgs: flags['node-arg'], env, logFile: flags.log && path.resolve(flags.log),
}, async ({ system, clock, load, profiler }) => {
  // Every process of the system (Mosquitto and its subscriber, say), each apart when there are
  // several; PostgreSQL is counted apart.
  const processCpu = () => system.pids.map(processCpuUs)
  const names = system.pids.map(processName)
  // A one-process system (precall's gateway): its event loop's thread apart from its others.
  const threads = () => (system.pids.length === 1 ? threadCpu(system.pids[0]!) : undefined)
  const threadsSince = (t0: ReturnType<typeof threadCpu>, seconds: number) => {
    const t1 = threads()!
    return { user: t1.mainUserUs - t0.mainUserUs, system: t1.mainSystemUs - t0.mainSystemUs, other: t1.otherUs - t0.otherUs, busiest: busiestThreadSince(t0, t1)?.us ?? 0, switchesPerSecond: (t1.involuntarySwitches - t0.involuntarySwitches) / seconds }
  }
  console.log(`${label}, ${devices} devices, ${rate}/s offered at QoS ${qos} with ${faults} faults/s, ${seconds} s rounds`)
  if (profileFile) profiler.start()
  let measured = 0
  for (let round = 1; round <= rounds; round++) {
    await sleep(1000)
    clock.reset()
    if (flags.checkpoint) await admin`checkpoint`
    await system.loopDelay?.()
    const before = { handled: await system.processed(), each: processCpu(), postgres: postgresCpuUs(), wal: await wal(), threads: threads() }
    const machine = startCpuMeter()
    const started = performance.now()
    const result = await load(seconds)
    await sleep(500)
    const threadFigures = before.threads && threadsSince(before.threads, (performance.now() - started) / 1000)
    const handled = (await system.processed()) - before.handled
    measured += handled
    const perReading = (us: number) => (us / handled).toFixed(1)
    const each = processCpu().map((us, i) => us - before.each[i]!)
    const [own, database, all] = [each.reduce((a, b) => a + b, 0), postgresCpuUs() - before.postgres, machine.read()]
    const apart = names.length > 1 ? ` (${each.map((us, i) => `${names[i]} ${perReading(us)}`).join(', ')})`
      : threadFigures ? ` (main thread ${perReading(threadFigures.user)} user + ${perReading(threadFigures.system)} kernel, ${threadFigures.switchesPerSecond.toFixed(0)} involuntary switches/s; other threads ${perReading(threadFigures.other)}, the busiest of them ${perReading(threadFigures.busiest)})` : ''
    const after = await wal()
    const delay = await system.loopDelay?.()
    await sleep(500)
    const f = clock.reset()
    const faultFigures = alerts ? `; fault→webhook p50 ${f.p50Ms.toFixed(0)} / p99 ${f.p99Ms.toFixed(0)} ms (${f.alerted}/${f.injected})` : ''
    console.log(`round ${round}: ${handled} readings; µs a reading: ${precall && names.length === 1 ? 'gateway' : 'system'} ${perReading(own)}${apart}, PostgreSQL ${perReading(database)}, ` +
      `all but this process ${perReading(all)}; WAL ${perReading(after.bytes - before.wal.bytes)} B and ` +
      `${((after.fpi - before.wal.fpi) / handled).toFixed(3)} full pages a reading; PUBACK p50 ${result.p50Ms.toFixed(1)} / p99 ${result.p99Ms.toFixed(1)} ms` +
      `${result.skipped > 0 ? `; ${result.skipped} publishes skipped at the in-flight cap` : ''}${faultFigures}` +
      `${delay ? `; event-loop delay p99 ${delay.p99Ms.toFixed(0)} / max ${delay.maxMs.toFixed(0)} ms` : ''}` +
      `; RSS ${(system.pids.reduce((sum, pid) => sum + rssBytes(pid), 0) / 2 ** 20).toFixed(0)} MB`)
  }
  if (profileFile) {
    await profiler.stop()
    console.log(`CPU profile of the gateway over the rounds (${measured} readings): ${profileFile}`)
  }
})
await admin.end()
process.exit(0)
