import { setTimeout as sleep } from 'node:timers/promises'
import { runLoad, type ConnectedFleet } from '../device-sim/load-generator.js'
import type { FaultClock, FaultFigures } from './fault-clock.js'
import { startCpuMeter } from './process-stats.js'
import type { SystemUnderTest } from './systems/system.js'

export type StepOptions = {
  qos: 0 | 1
  startRate: number
  factor: number
  maxRate: number
  stepSeconds: number
  /** The step at half the sustained maximum, where latencies are reported. */
  latencySeconds: number
  /** Unrecorded load at a rate before it is measured: JIT, pools, first tickets and rule state. */
  warmupSeconds: number
  faultsPerSecond: number
  log(line: string): void
}

export type StepFigures = {
  targetPerSecond: number
  offeredPerSecond: number
  processedPerSecond: number
  keptUp: boolean
  /** Why the step did not keep up, or why stepping stopped. */
  verdict: string
  pubackP50Ms: number
  pubackP99Ms: number
  failed: number
  skipped: number
  cpuUsPerReading: number
  faults: FaultFigures
}

export type SteppedResult = { steps: StepFigures[]; sustainedPerSecond: number; atHalf: StepFigures | null }

// A step keeps up when the system handles what was offered (5 % slack for the counting edges),
// nothing failed, and acknowledgements and alerts came back within a second. Alerts count because
// a system can store every reading while its faults queue for seconds behind them: at QoS 0 there is
// no acknowledgement to show it (PGlite's steps at 5,000 and 10,000 devices kept up by count with
// faults alerted 2.6-3.7 s late, bench/results/2026-12-06-7.json).
const KEEP_UP = 0.95
const MAX_P99_MS = 1000
const RAMP_SHARE = 0.25
const REFINE_STEPS = 2

/**
 * Stepped open-loop load: offer `startRate` readings/s, then `factor` times more each step, until
 * the system stops keeping up (or the generator itself cannot offer more); then two steps closing
 * in between the last that kept up and the first that did not, or, if the first already failed,
 * steps down first.
 * The sustained maximum is the best rate handled by a step that kept up; one more step at half of
 * it, after a warm-up at that rate, gives latencies.
 */
export async function runSteps(system: SystemUnderTest, fleet: ConnectedFleet, clock: FaultClock, opts: StepOptions): Promise<SteppedResult> {
  const steps: StepFigures[] = []
  // Before the first step and before the half-load step (see `warmupSeconds`).
  const warmUp = (rate: number) => runLoad({ fleet, qos: opts.qos, ratePerSecond: rate, seconds: opts.warmupSeconds, payload: clock.payload(fleet.lanes.map((l) => l.id), opts.faultsPerSecond) })
  await warmUp(opts.startRate)
  for (let rate = opts.startRate; ; rate = Math.round(rate * opts.factor)) {
    const step = await runStep(system, fleet, clock, opts, rate, opts.stepSeconds)
    steps.push(step)
    opts.log(describeStep(step))
    if (!step.keptUp || generatorBound(step)) break
    if (rate * opts.factor > opts.maxRate) { step.verdict = 'reached --max-rate'; break }
  }
  // A larger fleet starts at half the previous one's maximum, which may already be too much: step
  // down until a step keeps up.
  for (let tries = 0; !steps.some((s) => s.keptUp) && tries < 3; tries++) {
    const step = await runStep(system, fleet, clock, opts, Math.round(steps[steps.length - 1].targetPerSecond / opts.factor), opts.stepSeconds)
    steps.push(step)
    opts.log(`${describeStep(step)} (stepping down)`)
  }
  // Steps of ×factor are coarse near the maximum (×1.4 leaves up to 40 % unknown): two more, each
  // halving the gap between the best step that kept up and the lowest above it that did not
  // (unless the generator could not offer that much), leave ×1.09.
  for (let i = 0; i < REFINE_STEPS; i++) {
    const best = Math.max(0, ...steps.filter((s) => s.keptUp).map((s) => s.targetPerSecond))
    const above = steps.filter((s) => !s.keptUp && s.targetPerSecond > best && !generatorBound(s)).map((s) => s.targetPerSecond)
    if (best === 0 || above.length === 0) break
    const step = await runStep(system, fleet, clock, opts, Math.round(Math.sqrt(best * Math.min(...above))), opts.stepSeconds)
    steps.push(step)
    opts.log(`${describeStep(step)} (between)`)
  }
  const sustainedPerSecond = sustainedOf(steps)
  if (sustainedPerSecond === 0) return { steps, sustainedPerSecond, atHalf: null }
  // Latencies are read in a steady state: after the overload step, the system (and PostgreSQL's
  // checkpoints and vacuum) first gets the same warm-up at the new rate that the first step had.
  const half = Math.round(sustainedPerSecond / 2)
  await settle(system)
  await warmUp(half)
  const atHalf = await runStep(system, fleet, clock, opts, half, opts.latencySeconds)
  opts.log(`${describeStep(atHalf)} (half of sustained)`)
  return { steps, sustainedPerSecond, atHalf }
}

async function runStep(system: SystemUnderTest, fleet: ConnectedFleet, clock: FaultClock, opts: StepOptions, rate: number, seconds: number): Promise<StepFigures> {
  await settle(system)
  clock.reset()
  // Throughput (and CPU) is read over the step after its first quarter. A system that keeps up
  // holds a steady number of readings in flight, so what it handles over the rest of the step is
  // what was offered; one that falls behind piles them up and handles less. Counted from the
  // emptied pipeline at the start instead, the readings still in flight at the end counted
  // against it: 250 ms of queueing cost 6 % of a 4 s step, a latency read as lost throughput.
  // Each count is taken when the system answers it: one whose thread is busy (PGlite) answers
  // late, with what it had done by then.
  const counted = async () => ({ processed: await system.processed(), at: performance.now() })
  const afterRamp = sleep(seconds * RAMP_SHARE * 1000).then(async () => ({ ...(await counted()), cpu: startCpuMeter() }))
  const atDeadline = sleep(seconds * 1000).then(async () => {
    const end = await counted()
    const from = await afterRamp
    return { cpuUs: from.cpu.read(), handled: end.processed - from.processed, seconds: (end.at - from.at) / 1000 }
  })
  const deviceIds = fleet.lanes.map((l) => l.id)
  const load = await runLoad({ fleet, qos: opts.qos, ratePerSecond: rate, seconds, payload: clock.payload(deviceIds, opts.faultsPerSecond) })
  const { cpuUs, handled, seconds: measured } = await atDeadline
  // The last faults of the step still get their alerts' time to arrive.
  await sleep(1000)
  const faults = clock.reset()
  const processedPerSecond = handled / measured
  const { verdict, keptUp } = judgeStep({ qos: opts.qos, targetPerSecond: rate, processedPerSecond, load, faults })
  return {
    targetPerSecond: rate,
    offeredPerSecond: load.offeredPerSecond,
    processedPerSecond,
    keptUp,
    verdict,
    pubackP50Ms: load.p50Ms,
    pubackP99Ms: load.p99Ms,
    failed: load.failed,
    skipped: load.skipped,
    cpuUsPerReading: handled > 0 ? cpuUs / handled : NaN,
    faults,
  }
}

const GENERATOR_BOUND = 'generator-bound'

/**
 * Whether a step kept up, and if not, why. A step whose generator could not offer its rate (it
 * shares the machine's cores with the system, and at the ceiling's rates it is the slower of the
 * two) still counts when the system kept up with what was offered: the bare broker's steps end
 * this way, and counting only the steps below (×1.4 apart) could report a ceiling up to 40 % under
 * what it had handled (run J, 2026-12-07-6.json, QoS 0 with 5,000 devices: 56.7k, where the next
 * step offered 68.2k and all of it was handled). Its verdict says so, and stepping stops there:
 * the figure is a floor of the system's maximum, not the maximum.
 */
export function judgeStep(s: {
  qos: 0 | 1
  targetPerSecond: number
  processedPerSecond: number
  load: { offeredPerSecond: number; sent: number; failed: number; skipped: number; p99Ms: number }
  faults: { alerted: number; p99Ms: number }
}): { verdict: string; keptUp: boolean } {
  const { load, faults } = s
  const short = load.offeredPerSecond < s.targetPerSecond * 0.9
  const lapse = load.failed > 0 ? `${load.failed} publishes failed`
    : load.skipped > load.sent * 0.01 ? `${load.skipped} publishes skipped (devices at their in-flight cap)`
    : s.processedPerSecond < load.offeredPerSecond * KEEP_UP ? 'fell behind'
    : s.qos === 1 && load.p99Ms > MAX_P99_MS ? `PUBACK p99 ${load.p99Ms.toFixed(0)} ms`
    : faults.alerted > 0 && faults.p99Ms > MAX_P99_MS ? `fault→alert p99 ${faults.p99Ms.toFixed(0)} ms`
    : undefined
  if (short) return { verdict: lapse === undefined ? `${GENERATOR_BOUND}, kept up with what it offered` : `${GENERATOR_BOUND}, ${lapse}`, keptUp: lapse === undefined }
  return { verdict: lapse ?? 'kept up', keptUp: lapse === undefined }
}

/**
 * What a step that kept up sustained: what it handled, but never more than was offered. A system
 * that lagged at the step's start and caught up handles more than the offered rate over the
 * counted window (the bare broker in run K, 2026-12-07-8.json, 5,000 devices at QoS 1: 66.5k
 * handled of 54.7k offered), which is not a rate it sustains.
 */
export const sustainedBy = (s: StepFigures) => Math.min(s.processedPerSecond, s.offeredPerSecond)

/** The step that kept up at the best rate (see sustainedBy), if any did. */
export function bestStep(steps: StepFigures[]): StepFigures | undefined {
  let best: StepFigures | undefined
  for (const s of steps) if (s.keptUp && (best === undefined || sustainedBy(s) > sustainedBy(best))) best = s
  return best
}

/** The best rate a system sustained over its steps: its best step's (0 when none kept up). */
export const sustainedOf = (steps: StepFigures[]) => {
  const best = bestStep(steps)
  return best ? sustainedBy(best) : 0
}

/** Whether the generator could not offer a step's rate (see judgeStep): the step's figure is a floor. */
export const generatorBound = (s: StepFigures) => s.verdict.startsWith(GENERATOR_BOUND)

/** Waits until the system has worked off what earlier steps left queued (bounded). */
async function settle(system: SystemUnderTest, limitMs = 60_000): Promise<void> {
  const until = Date.now() + limitMs
  let last = await system.processed()
  while (Date.now() < until) {
    await sleep(500)
    const now = await system.processed()
    if (now === last) return
    last = now
  }
}

function describeStep(s: StepFigures): string {
  const f = s.faults.alerted > 0 ? `, fault→alert p99 ${s.faults.p99Ms.toFixed(0)} ms (${s.faults.alerted}/${s.faults.injected})` : ''
  return `    offered ${s.offeredPerSecond.toFixed(0)}/s → handled ${s.processedPerSecond.toFixed(0)}/s, PUBACK p99 ${s.pubackP99Ms.toFixed(1)} ms${f}, ${s.cpuUsPerReading.toFixed(0)} µs CPU/reading: ${s.verdict}`
}
