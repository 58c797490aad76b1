import { describe, expect, it } from 'vitest'
import type { GroundTruth, GroundTruthFault } from '../../device-sim/plan-fleet.js'
import { firstPerProblem, scoreFaults, type TicketLike } from '../../device-sim/score-faults.js'

const H = 3_600_000
const t0 = Date.parse('2026-07-01T00:00:00Z')
const at = (h: number) => new Date(t0 + h * H).toISOString()
const fault = (deviceId: string, kind: GroundTruthFault['kind'], startH: number, failureH: number | null, problems: string[]): GroundTruthFault => ({
  deviceId, deviceType: 'washer', kind, startAt: at(startH), failureAt: failureH === null ? null : at(failureH), endAt: null,
  expectTicket: problems.length > 0, problems, thresholdDetectable: true, describe: '',
})
const truth: GroundTruth = {
  seed: 1, start: at(0), end: at(240),
  devices: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, deviceType: 'washer' })),
  faults: [
    fault('a', 'drain-clog', 24, 200, ['drain-pump']),
    fault('b', 'sudden-failure', 48, 60, ['motor-drive']),
    fault('c', 'flapping-sensor', 24, 100, ['temperature-sensor']),
    fault('d', 'unplugged', 50, null, []),
  ],
}
const ticket = (deviceId: string, problem: string, h: number): TicketLike => ({ id: `${deviceId}-${problem}-${h}`, deviceId, problem, detectedAt: at(h) })

describe('scoreFaults', () => {
  it('scores lead time, lateness, misses, quiet faults and false alarms', () => {
    const score = scoreFaults(truth, [
      ticket('a', 'drain-pump', 150), // early: 50 h before the failure
      ticket('a', 'drain-pump', 180), // a second ticket for the same fault still matches
      ticket('b', 'motor-drive', 61), // after the customer noticed
      ticket('c', 'drain-pump', 30), // wrong problem
      ticket('e', 'connectivity', 10), // healthy device
      ticket('a', 'drain-pump', -5), // before the run: another run's ticket, ignored
      ticket('zz', 'drain-pump', 10), // not in this fleet, ignored
    ])
    const by = Object.fromEntries(score.faults.map((f) => [f.deviceId, f]))
    expect(by.a).toMatchObject({ verdict: 'early', leadMs: 50 * H, ticketId: 'a-drain-pump-150' })
    expect(by.b).toMatchObject({ verdict: 'late', leadMs: -H })
    expect(by.c.verdict).toBe('missed')
    expect(by.d.verdict).toBe('quiet')
    expect(score.tickets).toBe(5)
    expect(score.matchedTickets).toBe(3)
    expect(score.precision).toBeCloseTo(3 / 5)
    expect(score.recall).toBeCloseTo(2 / 3)
    expect(score.earlyRecall).toBeCloseTo(1 / 3)
    expect(score.medianLeadMs).toBe((50 * H + -H) / 2)
    expect(score.falseAlarms.map((t) => t.deviceId).sort()).toEqual(['c', 'e'])
  })

  it('counts a ticket on an unplugged appliance as a false alarm, and a ticket before the fault as unrelated', () => {
    const score = scoreFaults(truth, [ticket('d', 'connectivity', 60), ticket('a', 'drain-pump', 20)])
    expect(score.faults.find((f) => f.deviceId === 'd')!.verdict).toBe('false-alarm')
    expect(score.faults.find((f) => f.deviceId === 'a')!.verdict).toBe('missed')
    expect(score.precision).toBe(0)
  })

  it('has no precision without tickets', () => {
    expect(scoreFaults(truth, []).precision).toBeNaN()
  })

  it('folds repeated replay detections into the first per device and problem', () => {
    const first = firstPerProblem([ticket('a', 'drain-pump', 160), ticket('a', 'drain-pump', 150), ticket('a', 'x', 170)])
    expect(first.map((t) => t.id)).toEqual(['a-drain-pump-150', 'a-x-170'])
  })
})
