import { describe, expect, it } from 'vitest'
import { formatTable, isFloor, type RunRow } from '../../bench/report.js'
import { judgeStep, sustainedBy, sustainedOf, type StepFigures } from '../../bench/step-load.js'

const load = (offeredPerSecond: number, extra: Partial<{ failed: number; skipped: number; p99Ms: number }> = {}) =>
  ({ offeredPerSecond, sent: offeredPerSecond * 5, failed: 0, skipped: 0, p99Ms: 50, ...extra })
const noFaults = { alerted: 0, p99Ms: 0 }

function step(targetPerSecond: number, offeredPerSecond: number, processedPerSecond: number): StepFigures {
  const { verdict, keptUp } = judgeStep({ qos: 1, targetPerSecond, processedPerSecond, load: load(offeredPerSecond), faults: noFaults })
  return {
    targetPerSecond, offeredPerSecond, processedPerSecond, keptUp, verdict, pubackP50Ms: 5, pubackP99Ms: 50, failed: 0, skipped: 0, cpuUsPerReading: 20,
    faults: { injected: 0, alerted: 0, p50Ms: NaN, p99Ms: NaN },
  } as StepFigures
}

describe('a benchmark step', () => {
  it('keeps up when it handles what was offered in time', () => {
    expect(judgeStep({ qos: 1, targetPerSecond: 10_000, processedPerSecond: 9_900, load: load(10_000), faults: noFaults })).toEqual({ verdict: 'kept up', keptUp: true })
    expect(judgeStep({ qos: 1, targetPerSecond: 10_000, processedPerSecond: 9_000, load: load(10_000), faults: noFaults })).toEqual({ verdict: 'fell behind', keptUp: false })
    expect(judgeStep({ qos: 1, targetPerSecond: 10_000, processedPerSecond: 10_000, load: load(10_000, { p99Ms: 1_500 }), faults: noFaults }).keptUp).toBe(false)
    expect(judgeStep({ qos: 0, targetPerSecond: 10_000, processedPerSecond: 10_000, load: load(10_000, { p99Ms: 1_500 }), faults: noFaults }).keptUp).toBe(true)
    expect(judgeStep({ qos: 1, targetPerSecond: 10_000, processedPerSecond: 10_000, load: load(10_000), faults: { alerted: 3, p99Ms: 1_200 } }).verdict).toBe('fault→alert p99 1200 ms')
  })

  it('counts a step its generator could not offer only when the system kept up with what was offered', () => {
    const kept = judgeStep({ qos: 1, targetPerSecond: 63_249, processedPerSecond: 66_423, load: load(51_567, { p99Ms: 981 }), faults: noFaults })
    expect(kept).toEqual({ verdict: 'generator-bound, kept up with what it offered', keptUp: true })
    const behind = judgeStep({ qos: 0, targetPerSecond: 57_224, processedPerSecond: 32_444, load: load(46_919), faults: noFaults })
    expect(behind).toEqual({ verdict: 'generator-bound, fell behind', keptUp: false })
  })

  it('sustains no more than was offered, and the table prints a figure the generator capped as a floor', () => {
    const ceiling = [step(45_178, 45_100, 46_079), step(63_249, 51_567, 66_423)]
    const precall = [step(21_190, 21_200, 21_251), step(23_050, 23_000, 20_000)]
    expect(ceiling.map(sustainedBy)).toEqual([45_100, 51_567])
    expect(precall.map(sustainedBy)).toEqual([21_200, 20_000])
    const row = (system: string, steps: StepFigures[]): RunRow => ({
      system, alerts: false, qos: 1, devices: 1000, connectSeconds: 1, rssIdleBytes: 0, rssConnectedBytes: 0,
      steps, sustainedPerSecond: sustainedOf(steps), atHalf: null,
    })
    const rows = [row('bare aedes (ceiling)', ceiling), row('precall', precall)]
    expect(rows.map((r) => [r.sustainedPerSecond, isFloor(r)])).toEqual([[51_567, true], [21_200, false]])
    const table = formatTable(rows).split('\n')
    expect(table[2]).toContain('| ≥ 51,567 | 100 % |')
    expect(table[3]).toContain('| 21,200 | ≤ 41 % |')
  })
})
