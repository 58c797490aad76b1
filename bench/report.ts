import { cpus, totalmem, type as osType, release } from 'node:os'
import { bestStep, generatorBound, type SteppedResult } from './step-load.js'
import { CEILING_LABEL } from './systems/registry.js'

export type RunRow = SteppedResult & {
  system: string
  /** Whether the system raises alerts at all (the ceiling does not). */
  alerts: boolean
  qos: 0 | 1
  devices: number
  connectSeconds: number
  rssIdleBytes: number
  rssConnectedBytes: number
}

export function describeMachine() {
  return {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`, node: process.version,
  }
}

/**
 * Whether a row's sustained figure came from a step its generator could not fully offer: then it
 * is a floor of what the system sustains (see judgeStep), printed with ≥.
 */
export function isFloor(r: Pick<SteppedResult, 'steps'>): boolean {
  const best = bestStep(r.steps)
  return best !== undefined && generatorBound(best)
}

const perDeviceKb = (r: RunRow) => (r.rssConnectedBytes - r.rssIdleBytes) / r.devices / 1024
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—')
const pair = (a: number, b: number, digits: number) => (Number.isFinite(a) ? `${fmt(a, digits)} / ${fmt(b, digits)}` : '—')

/**
 * One row per system, QoS and fleet size, as a Markdown table (it goes into the README as is).
 * Ratios are to the ceiling (bare aedes) of the same QoS and fleet size in the same run.
 */
export function formatTable(rows: RunRow[]): string {
  const ceilingOf = (r: RunRow) => rows.find((c) => c.system === CEILING_LABEL && c.qos === r.qos && c.devices === r.devices)
  const header = ['system', 'QoS', 'devices', 'sustained readings/s', 'vs ceiling', 'PUBACK p50 / p99 ms', 'fault→alert p50 / p99 ms', 'CPU µs/reading', 'vs ceiling', 'RSS idle MB', 'RSS KB/device']
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`]
  for (const r of rows) {
    const ceiling = ceilingOf(r)
    const half = r.atHalf
    const cpu = r.steps.filter((s) => s.keptUp).at(-1)?.cpuUsPerReading ?? NaN
    const ceilingCpu = ceiling?.steps.filter((s) => s.keptUp).at(-1)?.cpuUsPerReading ?? NaN
    lines.push(`| ${[
      r.system, r.qos, fmt(r.devices), `${isFloor(r) ? '≥ ' : ''}${fmt(r.sustainedPerSecond)}`,
      ceiling ? `${ceiling === r ? '' : boundOf(isFloor(r), isFloor(ceiling))}${fmt((r.sustainedPerSecond / ceiling.sustainedPerSecond) * 100)} %` : '—',
      r.qos === 1 && half ? pair(half.pubackP50Ms, half.pubackP99Ms, 1) : '—',
      half && half.faults.alerted > 0 ? pair(half.faults.p50Ms, half.faults.p99Ms, 0) : '—',
      fmt(cpu, 1), ceiling ? `${fmt(cpu / ceilingCpu, 1)}×` : '—',
      fmt(r.rssIdleBytes / 2 ** 20), fmt(perDeviceKb(r), 1),
    ].join(' | ')} |`)
  }
  return lines.join('\n')
}

/** A ratio of two figures either of which may be a floor: ≥ when only the first is, ≤ when only the second, ~ when both. */
const boundOf = (floor: boolean, ceilingFloor: boolean) => (floor && ceilingFloor ? '~ ' : floor ? '≥ ' : ceilingFloor ? '≤ ' : '')

/** What a reader needs to weigh the figures: fault delivery, steps that never kept up. */
export function formatNotes(rows: RunRow[]): string[] {
  const notes: string[] = []
  for (const r of rows) {
    const half = r.atHalf
    if (half && r.alerts && half.faults.injected > half.faults.alerted) {
      notes.push(`${r.system}, QoS ${r.qos}, ${r.devices} devices: ${half.faults.injected - half.faults.alerted} of ${half.faults.injected} faults raised no alert within the step`)
    }
    if (isFloor(r)) notes.push(`${r.system}, QoS ${r.qos}, ${r.devices} devices: the load generator could not offer more than ${fmt(r.sustainedPerSecond)} readings/s, all of which the system kept up with; its maximum is higher`)
    if (r.sustainedPerSecond === 0) notes.push(`${r.system}, QoS ${r.qos}, ${r.devices} devices: no step kept up (${r.steps[0]?.verdict})`)
  }
  return notes
}
