import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { connectFleet } from '../device-sim/load-generator.js'
import { chartTitle, renderThroughputChart } from './chart.js'
import { stopAll } from './child-process.js'
import { startFaultClock } from './fault-clock.js'
import { rssBytes } from './process-stats.js'
import { describeMachine, formatNotes, formatTable, type RunRow } from './report.js'
import { runSoak, type SoakResult } from './soak.js'
import { runSteps, type StepOptions } from './step-load.js'
import { SYSTEMS, type SystemName } from './systems/registry.js'

const USAGE = `usage: npm run bench -- [--smoke] [--systems ${Object.keys(SYSTEMS).join(',')}]
                       [--devices 1000,5000,10000] [--qos 1,0] [--step-seconds 5] [--start-rate 2000]
                       [--factor 1.4] [--max-rate 120000] [--faults 20] [--out bench/results/latest.json]
                       [--profile DIR] [--soak MINUTES --rate R]
Runs every system with the same load generator on this machine: for each fleet size and QoS, a
stepped offered load until readings stop keeping up, then a step at half the sustained maximum
for latencies. Prints a Markdown table, writes every step to the JSON file and draws throughput
against fleet size next to it (the same name, .svg). --profile writes a
V8 CPU profile of each precall process into DIR (open it in Chrome DevTools or speedscope).
--soak holds the first system and QoS at --rate readings/s with the largest fleet for MINUTES
(at least 3) and reports whether its memory grows.`

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    systems: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
    devices: { type: 'string', default: '1000,5000,10000' },
    qos: { type: 'string', default: '1,0' },
    'step-seconds': { type: 'string', default: '5' },
    'start-rate': { type: 'string', default: '2000' },
    factor: { type: 'string', default: '1.4' },
    'max-rate': { type: 'string', default: '120000' },
    faults: { type: 'string', default: '20' },
    profile: { type: 'string' },
    soak: { type: 'string' },
    rate: { type: 'string' },
    out: { type: 'string', default: 'bench/results/latest.json' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)
const systems = list(values.systems) as SystemName[]
const unknown = systems.filter((s) => !(s in SYSTEMS))
if (unknown.length > 0) {
  console.error(`unknown system(s): ${unknown.join(', ')}\n${USAGE}`)
  process.exit(2)
}
// Smoke: a few seconds and a tiny load through every system, so CI notices when the script rots.
const smoke = values.smoke
const deviceCounts = smoke ? [20] : list(values.devices).map(Number)
const qosList = list(values.qos).map((q) => (q === '0' ? 0 : 1) as 0 | 1)
const base: Omit<StepOptions, 'qos' | 'startRate'> = {
  factor: smoke ? 2 : Number(values.factor),
  maxRate: smoke ? 400 : Number(values['max-rate']),
  stepSeconds: smoke ? 1 : Number(values['step-seconds']),
  latencySeconds: smoke ? 2 : 2 * Number(values['step-seconds']),
  warmupSeconds: smoke ? 0.5 : 3,
  faultsPerSecond: smoke ? 5 : Number(values.faults),
  log: (line) => console.error(line),
}
const startRate = smoke ? 200 : Number(values['start-rate'])
if (![...deviceCounts, base.factor, base.maxRate, base.stepSeconds, startRate].every((n) => Number.isFinite(n) && n > 0) || base.factor <= 1) {
  console.error(`--devices, --step-seconds, --start-rate and --max-rate take positive numbers, --factor one above 1\n${USAGE}`)
  process.exit(2)
}

const soakMinutes = values.soak === undefined ? undefined : Number(values.soak)
if (soakMinutes !== undefined && !(soakMinutes >= 3 && Number(values.rate) > 0)) {
  console.error(`--soak takes minutes (3 or more) and needs --rate\n${USAGE}`)
  process.exit(2)
}

const clock = await startFaultClock()
const rows: RunRow[] = []
let soak: (SoakResult & { system: string; devices: number; qos: 0 | 1 }) | undefined
const sumRss = (pids: number[]) => pids.reduce((n, pid) => n + rssBytes(pid), 0)
let exitCode = 0
const shutdown = async () => { await stopAll(); process.exit(130) }
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)

try {
  if (soakMinutes !== undefined) {
    const [name, devices, qos] = [systems[0], Math.max(...deviceCounts), qosList[0]]
    const system = await SYSTEMS[name].start({ devices, alertUrl: clock.url, profileDir: values.profile })
    try {
      const fleet = await connectFleet({ url: system.mqttUrl, devices: system.devices })
      console.error(`${name}: soak at ${values.rate}/s, QoS ${qos}, ${devices} devices for ${soakMinutes} min`)
      const result = await runSoak(system, fleet, clock, { qos, ratePerSecond: Number(values.rate), minutes: soakMinutes, faultsPerSecond: base.faultsPerSecond, rss: () => sumRss(system.pids), log: base.log })
      soak = { system: SYSTEMS[name].label, devices, qos, ...result }
      await fleet.close()
    } finally {
      await system.stop()
    }
  }
  for (const name of soakMinutes === undefined ? systems : []) {
    console.error(`${name}: starting with ${Math.max(...deviceCounts)} devices registered`)
    const system = await SYSTEMS[name].start({ devices: Math.max(...deviceCounts), alertUrl: clock.url, profileDir: values.profile })
    try {
      let rate = startRate
      for (const devices of deviceCounts) {
        const idle = sumRss(system.pids)
        const fleet = await connectFleet({ url: system.mqttUrl, devices: system.devices.slice(0, devices) })
        console.error(`  ${devices} devices connected in ${fleet.connectSeconds.toFixed(1)} s`)
        try {
          for (const qos of qosList) {
            console.error(`  QoS ${qos}:`)
            const result = await runSteps(system, fleet, clock, { ...base, qos, startRate: rate })
            rows.push({ system: SYSTEMS[name].label, alerts: SYSTEMS[name].alerts, qos, devices, connectSeconds: fleet.connectSeconds, rssIdleBytes: idle, rssConnectedBytes: sumRss(system.pids), ...result })
            // The next run of this system starts near where this one topped out, saving steps.
            if (!smoke && result.sustainedPerSecond > 0) rate = Math.max(startRate, Math.round(result.sustainedPerSecond / 2))
          }
        } finally {
          await fleet.close()
        }
      }
    } finally {
      await system.stop()
    }
  }
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`)
  exitCode = 1
} finally {
  await stopAll()
  await clock.close()
}

const machine = describeMachine()
console.log(`\n${smoke ? 'SMOKE — ' : ''}${new Date().toISOString()}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}\n`)
if (rows.length > 0) console.log(formatTable(rows))
if (soak) {
  const mb = (b: number) => (b / 2 ** 20).toFixed(0)
  console.log(`soak: ${soak.system}, ${soak.devices} devices, QoS ${soak.qos}, ${soak.ratePerSecond}/s offered for ${soak.minutes} min: handled ${soak.handledPerSecond.toFixed(0)}/s, ` +
    `PUBACK p99 ${soak.pubackP99Ms.toFixed(1)} ms, fault→alert p99 ${soak.faults.p99Ms.toFixed(0)} ms (${soak.faults.alerted}/${soak.faults.injected}), ` +
    `RSS ${mb(soak.samples[0]?.rssBytes ?? 0)} → ${mb(soak.samples.at(-1)?.rssBytes ?? 0)} MB, last minute vs second: ${soak.growthPercent >= 0 ? '+' : ''}${soak.growthPercent.toFixed(1)} %`)
}
for (const note of formatNotes(rows)) console.log(`- ${note}`)
mkdirSync(path.dirname(values.out), { recursive: true })
const run = { machine, at: new Date().toISOString(), smoke, options: { ...base, log: undefined, startRate, deviceCounts, qosList }, rows, soak }
writeFileSync(values.out, `${JSON.stringify(run, null, 2)}\n`)
console.error(`\nevery step: ${values.out}`)
if (rows.length > 0) {
  const chart = values.out.replace(/(\.json)?$/, '.svg')
  writeFileSync(chart, renderThroughputChart(rows, chartTitle(run)))
  console.error(`throughput chart: ${chart}`)
}

if (smoke) {
  // Each system must have handled readings, and each that raises alerts must have raised one.
  for (const r of rows) {
    const alerts = r.steps.reduce((n, s) => n + s.faults.alerted, 0) + (r.atHalf?.faults.alerted ?? 0)
    if (r.sustainedPerSecond === 0) { console.error(`smoke: ${r.system} QoS ${r.qos} handled nothing`); exitCode = 1 }
    if (r.alerts && alerts === 0) { console.error(`smoke: ${r.system} QoS ${r.qos} raised no alert`); exitCode = 1 }
  }
  if (rows.length !== systems.length * qosList.length) { console.error('smoke: not every system ran'); exitCode = 1 }
}
process.exit(exitCode)
