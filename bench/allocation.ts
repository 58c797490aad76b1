/**
 * Allocation benchmark: bytes the gateway allocates per reading, and where. Garbage collection is
 * a sixth of the gateway's CPU under load, and what it costs follows what is allocated, which,
 * unlike CPU time on a shared VM, hardly varies from run to run.
 *
 *   npm run bench:alloc -- [--devices 1000] [--rate 10000] [--seconds 10] [--top 25] [--who REGEX] [--live | --promoted]
 *                          [--env NAME=VALUE]…
 *
 * Runs `gateway/main.ts` on PostgreSQL as `npm run bench` does (see bench/systems/precall.ts),
 * with bench/profiler-toggle.cjs preloaded; warms it up with the bench's load generator and
 * fault clock for 5 s, then samples every allocation, freed or not, for --seconds at --rate
 * readings/s. Prints bytes per reading in all, by allocating function, and charged to the
 * nearest precall frame on the stack; --who lists the stacks under the functions matching REGEX.
 * With --live, counts only what is still alive after a full garbage collection when sampling
 * stops, per connected device: what each device's messages leave behind until its next one, and
 * what is in flight at that moment — what the young generation may promote when a large fleet
 * spaces its messages out. With --promoted, counts what outlived the young generation (survived a
 * scavenge), whether a later full collection freed it or not, per reading: what scavenges copy,
 * which is what they cost. `--env` sets a variable of the gateway's environment (a pass that runs
 * once a minute, say, `--env RETENTION_POLL_MS=5000`, so that every window holds some).
 * A benchmark, not a test: it asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { envFromFlags, withSystemAtRate } from './fixed-load.js'

const { values: flags } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    who: { type: 'string' },
    live: { type: 'boolean', default: false },
    promoted: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
  },
})
const [devices, rate, seconds, top] = [flags.devices, flags.rate, flags.seconds, flags.top].map(Number)
if (![devices, rate, seconds, top].every((n) => Number.isFinite(n) && n > 0) || (flags.live && flags.promoted)) {
  console.error('usage: npm run bench:alloc -- [--devices 1000] [--rate 10000] [--seconds 10] [--top 25] [--who REGEX] [--live | --promoted] [--env NAME=VALUE]…')
  process.exit(2)
}
const FAULTS_PER_SECOND = 20

type Node = { callFrame: { functionName: string; url: string }; selfSize: number; children?: Node[] }

const dir = mkdtempSync(path.join(tmpdir(), 'precall-alloc-'))
const profileFile = path.join(dir, 'allocation.json')
try {
  await withSystemAtRate({ devices, rate, faults: FAULTS_PER_SECOND, profile: { kind: flags.live ? 'live' : flags.promoted ? 'promoted' : 'allocation', file: profileFile }, nodeArgs: flags.promoted ? ['--expose-gc'] : [], env: envFromFlags(flags.env) }, async ({ system, load, profiler }) => {
    await sleep(500)
    const before = await system.processed()
    profiler.start()
    const result = await load(seconds)
    await sleep(300)
    const profile = await profiler.stop()
    report(profile as { head: Node }, (await system.processed()) - before, result.perSecond)
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function report(profile: { head: Node }, readings: number, perSecond: number) {
  const where = (url: string) => url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(gateway|rules|bench|device-sim)\//, '$1/')
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url) || '(native)'}`
  const ours = (frame: string) => /^\S+ (gateway|rules)\//.test(frame)
  const bySite = new Map<string, number>()
  const byOurs = new Map<string, number>()
  const byStack = new Map<string, number>()
  const add = (m: Map<string, number>, k: string, bytes: number) => m.set(k, (m.get(k) ?? 0) + bytes)
  const who = flags.who === undefined ? undefined : new RegExp(flags.who)
  let total = 0
  const per = flags.live ? devices : readings
  const walk = (node: Node, stack: string[]) => {
    const frames = [label(node), ...stack]
    if (node.selfSize > 0) {
      total += node.selfSize
      add(bySite, frames[0], node.selfSize)
      add(byOurs, frames.find(ours) ?? '(outside precall)', node.selfSize)
      if (who?.test(frames[0])) add(byStack, frames.slice(0, 6).join('\n      < '), node.selfSize)
    }
    for (const child of node.children ?? []) walk(child, frames)
  }
  walk(profile.head, [])
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, bytes]) => `${(bytes / per).toFixed(0).padStart(7)} B ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${k}`).join('\n')
  console.log(`${readings} readings at ${perSecond.toFixed(0)}/s from ${devices} devices over ${seconds} s: ` + (flags.live
    ? `${(total / per).toFixed(0)} bytes allocated in that time still alive per connected device\n`
    : `${(total / per).toFixed(0)} bytes allocated per reading${flags.promoted ? ' that outlived the young generation' : ''}\n`))
  console.log(`by allocating function\n${list(bySite)}\n`)
  console.log(`charged to the nearest precall frame\n${list(byOurs)}`)
  if (who) console.log(`\nstacks under ${who}\n${list(byStack)}`)
}
process.exit(0)
