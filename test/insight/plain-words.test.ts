import { describe, expect, it } from 'vitest'
import { describeEvidence, formatDuration } from '../../gateway/insight/plain-words.js'

const SHANGHAI = { timeZone: 'Asia/Shanghai', units: { drain_time_s: 's', temp_c: '°C', motor_current_a: 'A' } }
const T = Date.parse('2026-11-02T02:02:00Z') // 10:02 in Shanghai

describe('evidence in plain words', () => {
  it.each([
    ['threshold held for a while', {
      kind: 'threshold', metric: 'drain_time_s', op: '>', limit: 120, value: 150, since: T, heldMs: 600_000, readings: 11, min: 125, max: 160,
    }, 'drain_time_s has been above 120 s for 10 min (11 readings, up to 160 s) since 2026-11-02 10:02 (customer time)'],
    ['threshold below a limit reports the lowest value', {
      kind: 'threshold', metric: 'temp_c', op: '<=', limit: 4, value: 3, since: T, heldMs: 7_500_000, readings: 5, min: 2.5, max: 3.9,
    }, 'temp_c has been at or below 4 °C for 2 h 5 min (5 readings, down to 2.5 °C) since 2026-11-02 10:02 (customer time)'],
    ['instant threshold (no for)', {
      kind: 'threshold', metric: 'drain_time_s', op: '>', limit: 120, value: 300, since: T, heldMs: 0, readings: 1, min: 300, max: 300,
    }, 'drain_time_s was 300 s, above 120 s, at 2026-11-02 10:02 (customer time)'],
    ['trend with a predicted failure', {
      kind: 'trend', metric: 'motor_current_a', op: '>=', limit: 12, slopePerHour: 0.0125, r2: 0.9312, points: 240, overMs: 7 * 86_400_000,
      predictedFailureAt: Date.parse('2026-11-20T06:30:00Z'), fittedValue: 9.1, withinMs: 30 * 86_400_000,
    }, 'motor_current_a is rising 0.0125 A per hour over the last 7 d (240 readings, fit R² 0.931); predicted to reach 12 A around 2026-11-20 14:30 (customer time)'],
    ['rate', {
      kind: 'rate', metric: 'temp_c', op: '>', limit: 2, slopePerHour: 3.5, r2: 0.8, points: 30, overMs: 3_600_000,
    }, 'temp_c is rising 3.5 °C per hour over the last 1 h (30 readings, fit R² 0.8), a change above the limit of 2 °C per hour'],
    ['count of event codes', {
      kind: 'count', codes: ['E21', 'E22'], atLeast: 3, withinMs: 3_600_000, first: T, last: T + 1_800_000, lastCode: 'E22',
    }, 'events E21 or E22 reported 3 times within 1 h, from 2026-11-02 10:02 (customer time) to 2026-11-02 10:32 (customer time) (last: E22)'],
    ['absence', {
      kind: 'absence', lastSeenAt: T, forMs: 3_600_000, silentMs: 5_400_000, lastStatus: 'offline',
    }, 'no telemetry for 1 h 30 min (allowed: 1 h), last heard from at 2026-11-02 10:02 (customer time); last status offline'],
    ['estimated aggregate', {
      kind: 'aggregate', metric: 'drain_time_s', fn: 'p95', op: '>', limit: 120, value: 133.3, estimated: true, points: 60, overMs: 3_600_000, since: T, heldMs: 600_000,
    }, 'the 95th percentile of drain_time_s over 1 h is about 133 s (60 readings), above 120 s for 10 min since 2026-11-02 10:02 (customer time)'],
    ['anomaly', {
      kind: 'anomaly', metric: 'motor_current_a', direction: 'up', limit: 3, z: 4.2, recentMean: 9.5, recentPoints: 12, baselineMean: 6, baselineStddev: 0.8, baselinePoints: 600,
    }, 'motor_current_a is unusually high: recent average 9.5 A over 12 readings against a usual 6 A ± 0.8 A (600 readings; 4.2 spreads from normal, limit 3)'],
    ['composite lists only the members that held', {
      kind: 'all', of: [
        { kind: 'threshold', metric: 'drain_time_s', op: '>', limit: 120, value: 130, since: T, heldMs: 0, readings: 1, min: 130, max: 130 },
        null,
        { kind: 'contact', channel: 'phone', reason: 'smells burnt' },
      ],
    }, 'all of these held: (1) drain_time_s was 130 s, above 120 s, at 2026-11-02 10:02 (customer time); (2) the customer got in touch by phone: "smells burnt"'],
    ['contact', { kind: 'contact', channel: 'chat', reason: 'door squeaks' }, 'the customer got in touch by chat: "door squeaks"'],
    ['unknown kind falls back to words from the JSON', {
      kind: 'vibration', metric: 'spin_rpm', peak: 1234.5678, windowMs: 90_000, seenAt: T, tags: ['drum', 'bearing'], detail: { axis: 'x' },
    }, 'vibration evidence: metric spin_rpm, peak 1235, window 1 min 30 s, seen 2026-11-02 10:02 (customer time), tags drum, bearing, detail (axis x)'],
    ['a known kind with missing fields falls back too', { kind: 'threshold', metric: 'drain_time_s' }, 'threshold evidence: metric drain_time_s'],
    ['no evidence', null, 'no evidence recorded'],
    ['no units known', {
      kind: 'threshold', metric: 'pressure', op: '>', limit: 3, value: 4, since: T, heldMs: 60_000, readings: 2, min: 4, max: 4.5,
    }, 'pressure has been above 3 for 1 min (2 readings, up to 4.5) since 2026-11-02 10:02 (customer time)'],
  ])('%s', (_name, evidence, words) => {
    expect(describeEvidence(evidence, SHANGHAI)).toBe(words)
  })

  it('shows times in the customer\'s zone and survives an unknown zone', () => {
    const evidence = { kind: 'absence', lastSeenAt: T, forMs: 60_000, silentMs: 60_000, lastStatus: null }
    expect(describeEvidence(evidence, { timeZone: 'Europe/Berlin' })).toContain('2026-11-02 03:02 (customer time)')
    expect(describeEvidence(evidence, { timeZone: 'Mars/Olympus' })).toContain('2026-11-02 02:02 (customer time)')
  })

  it.each([[999, '999 ms'], [45_000, '45 s'], [600_000, '10 min'], [3_660_000, '1 h 1 min'], [90_061_000, '1 d 1 h']])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})
