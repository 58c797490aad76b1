import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../gateway/ingest/decode.js'

const ctx = { deviceId: 'wm-1', metrics: { drain_time_s: { unit: 's', min: 0, max: 3600 } }, now: Date.parse('2026-11-24T10:00:00Z'), maxFutureMs: 300_000, maxAgeMs: 30 * 86_400_000 }
const decode = (body: unknown) => decodeMessage('telemetry', Buffer.from(JSON.stringify(body)), ctx)
const ts = Date.parse('2026-11-24T09:59:00Z')

describe('telemetry decoding', () => {
  it('reads the common shape and its ISO-time twin alike', () => {
    const plain = decode({ ts, seq: 7, metrics: { drain_time_s: 55 }, state: 'spin' })
    const iso = decode({ ts: new Date(ts).toISOString(), seq: 7, metrics: { drain_time_s: 55 }, state: 'spin' })
    expect(plain).toEqual(iso)
    expect(plain).toMatchObject({ ok: true, reading: { ts, seq: 7, dedupKey: 's7', metrics: { drain_time_s: 55 }, state: 'spin' } })
  })

  it.each([
    ['a negative seq', { ts, seq: -1, metrics: {} }, 'seq'],
    ['a fractional seq', { ts, seq: 1.5, metrics: {} }, 'seq'],
    ['a fractional ts', { ts: ts + 0.5, metrics: {} }, 'ts'],
    ['an unknown key', { ts, metrics: {}, extra: 1 }, 'extra'],
    ['a state over 64 characters', { ts, metrics: {}, state: 'x'.repeat(65) }, 'state'],
    ['an empty metric name', { ts, metrics: { '': 1 } }, 'metrics'],
    ['metrics as a list', { ts, metrics: [1] }, 'metrics'],
    ['no ts', { metrics: {} }, 'ts'],
  ])('refuses %s with a reason naming the field', (_name, body, field) => {
    const decoded = decode(body)
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_payload' })
    expect((decoded as { detail: string }).detail).toContain(field)
  })
})

describe('event time limits', () => {
  it('refuses a reading older than the retention window, saying which window and what to check', () => {
    const decoded = decode({ ts: ctx.now - ctx.maxAgeMs - 1, metrics: { drain_time_s: 5 } })
    expect(decoded).toMatchObject({ ok: false, reason: 'past_retention' })
    expect((decoded as { detail: string }).detail).toMatch(/30-day readings retention window \(READINGS_RETENTION_DAYS\)/)
  })

  it('stores a reading just inside the window, and one at the edge of the future limit', () => {
    expect(decode({ ts: ctx.now - ctx.maxAgeMs, metrics: { drain_time_s: 5 } })).toMatchObject({ ok: true })
    expect(decode({ ts: ctx.now + ctx.maxFutureMs, metrics: { drain_time_s: 5 } })).toMatchObject({ ok: true })
    expect(decode({ ts: ctx.now + ctx.maxFutureMs + 1, metrics: { drain_time_s: 5 } })).toMatchObject({ ok: false, reason: 'future_timestamp' })
  })
})
