/**
 * `npm run bench:cold`: whether a system started cold loses readings it acknowledged. The fleet
 * connects and publishes at once, with no warm-up (unless `--warm-up` seconds at the same rate),
 * for `--seconds`; then the bench waits until the system's count of stored readings stops moving
 * and prints what was sent, acknowledged and stored, and how many faults were alerted.
 *
 *   npm run bench:cold -- [--system precall-mosquitto] [--devices 5000] [--rate 8000] [--seconds 20] [--warm-up 0]
 *
 * Behind a broker (precall-mosquitto) the device's PUBACK comes from the broker on receipt: a
 * reading acknowledged and never stored was dropped between the broker and the gateway (the
 * broker's queue for the gateway overflowing while the gateway caught up). With the embedded
 * broker a PUBACK follows the commit, so the two counts agree by construction. A benchmark, not a
 * test: it asserts nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { withSystemAtRate } from './fixed-load.js'
import { SYSTEMS, type SystemName } from './systems/registry.js'

const { values: flags } = parseArgs({
  options: {
    system: { type: 'string', default: 'precall-mosquitto' },
    devices: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '8000' },
    seconds: { type: 'string', default: '20' },
    'warm-up': { type: 'string', default: '0' },
  },
})
const [devices, rate, seconds, warmUp] = [flags.devices, flags.rate, flags.seconds, flags['warm-up']].map(Number)
const systemName = flags.system as SystemName
if (![devices, rate, seconds].every((n) => Number.isFinite(n) && n > 0) || !(warmUp >= 0) || !Object.hasOwn(SYSTEMS, systemName) || !SYSTEMS[systemName].alerts) {
  const alerting = Object.entries(SYSTEMS).filter(([, s]) => s.alerts).map(([name]) => name)
  console.error(`usage: npm run bench:cold -- [--system ${alerting.join('|')}] [--devices 5000] [--rate 8000] [--seconds 20] [--warm-up 0]`)
  process.exit(2)
}

const STILL_MS = 1000
await withSystemAtRate({ system: systemName, devices, rate, faults: 20, warmUpSeconds: warmUp }, async ({ system, clock, load }) => {
  if (warmUp > 0) {
    await sleep(3000)
    clock.reset()
  }
  const before = await system.processed()
  const result = await load(seconds)
  // Stored readings arrive until the system has caught up: wait until the count holds still.
  let stored = await system.processed()
  for (;;) {
    await sleep(STILL_MS)
    const now = await system.processed()
    if (now === stored) break
    stored = now
  }
  stored -= before
  const acked = result.acked + result.drained
  const f = clock.reset()
  console.log(`${SYSTEMS[systemName].label}, ${devices} devices, ${rate}/s for ${seconds} s at QoS 1, ${warmUp > 0 ? `after ${warmUp} s of warm-up` : 'cold'}:`)
  console.log(`  sent ${result.sent}, acknowledged ${acked}, stored ${stored}: ${acked - stored} acknowledged and not stored (${(100 * (acked - stored) / acked).toFixed(2)} %)`)
  console.log(`  faults alerted ${f.alerted} of ${f.injected}, p50 ${f.p50Ms.toFixed(0)} / p99 ${f.p99Ms.toFixed(0)} ms`)
})
