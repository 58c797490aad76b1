import { createHash } from 'node:crypto'
import { z } from 'zod'
import { DEVICE_STATUSES } from '../../rules/observation.js'
import type { MetricSpec } from '../db/schema.js'
import { deviceTopic } from '../mqtt-topics.js'

const timestamp = z.union([
  z.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
])
const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional()

const telemetrySchema = z.strictObject({
  ts: timestamp,
  seq,
  metrics: z.record(z.string().min(1).max(64), z.unknown()),
  state: z.string().max(64).optional(),
})
const eventSchema = z.strictObject({
  ts: timestamp,
  seq,
  code: z.string().min(1).max(64),
  detail: z.record(z.string(), z.unknown()).optional(),
})
const statusSchema = z.strictObject({ status: z.enum(DEVICE_STATUSES), ts: timestamp.optional() })

export const REJECT_REASONS = [
  'not_json', 'invalid_payload', 'unknown_metric', 'wrong_type', 'out_of_range', 'future_timestamp', 'past_retention', 'unknown_topic',
] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export type StoredReading = {
  deviceId: string
  kind: 'telemetry' | 'event' | 'status'
  /** Event time, epoch ms: kept a number through to the insert, which a Date made slower to write. */
  ts: number
  seq: number | null
  dedupKey: string
  // Absent rather than null where a kind has none: the batch goes to PostgreSQL as JSON, and
  // `"state":null,"code":null,"detail":null` was a fifth of a telemetry reading's bytes (188 → 149).
  // What it saves in CPU is within this host's noise (`npm run bench:insert`, 'with nulls': one run
  // of three rounds PostgreSQL ~1 µs and the gateway ~2 µs a row less, the next two no difference).
  metrics?: Record<string, number> | null
  state?: string | null
  code?: string | null
  detail?: unknown
}

export type Decoded = { ok: true; reading: StoredReading } | { ok: false; reason: RejectReason; detail: string }

/** `maxAgeMs`: the readings retention window; an older reading would go with its day at once. */
export type DecodeContext = { deviceId: string; metrics: Record<string, MetricSpec>; now: number; maxFutureMs: number; maxAgeMs: number }

/** Decodes and validates one message for a known device. Never throws: bad input is a value. */
export function decodeMessage(channel: string, payload: Buffer, ctx: DecodeContext): Decoded {
  if (channel === 'status') return decodeStatus(payload, ctx)
  if (channel !== 'telemetry' && channel !== 'events') {
    return reject('unknown_topic', `${deviceTopic(ctx.deviceId, channel)} is not a topic precall reads; use telemetry, events or status`)
  }
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch (err) {
    return reject('not_json', `payload is not JSON: ${(err as Error).message}`)
  }
  if (channel === 'events') {
    const parsed = eventSchema.safeParse(json)
    if (!parsed.success) return reject('invalid_payload', describe(parsed.error))
    const { ts, seq: s, code, detail } = parsed.data
    return checkTime(ts, ctx) ?? accept(ctx, 'event', ts, s, payload, { code, detail })
  }
  let telemetry = plainTelemetry(json)
  if (!telemetry) {
    const parsed = telemetrySchema.safeParse(json)
    if (!parsed.success) return reject('invalid_payload', describe(parsed.error))
    telemetry = parsed.data
  }
  const { ts, seq: s, metrics, state } = telemetry
  const tooLate = checkTime(ts, ctx)
  if (tooLate) return tooLate
  // for…in rather than Object.entries: no array of pairs per reading.
  for (const name in metrics) {
    const value = metrics[name]
    const spec = ctx.metrics[name]
    if (!spec) return reject('unknown_metric', `metrics.${name}: not a metric of this device's type (known: ${Object.keys(ctx.metrics).join(', ')})`)
    if (typeof value !== 'number' || !Number.isFinite(value)) return reject('wrong_type', `metrics.${name}: expected a finite number, got ${JSON.stringify(value)}`)
    if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
      return reject('out_of_range', `metrics.${name}: ${value} is outside [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]${spec.unit ? ' ' + spec.unit : ''}`)
    }
  }
  return accept(ctx, 'telemetry', ts, s, payload, { metrics: metrics as Record<string, number>, state })
}

type Telemetry = z.output<typeof telemetrySchema>

/**
 * The shape nearly every device sends (epoch-ms `ts`, integer `seq`, flat `metrics`), checked by
 * hand: zod's parse was a few per cent of the gateway's CPU at 12k readings/s. Anything else, valid or not, goes through
 * `telemetrySchema`, which stays the definition and the source of every error message.
 */
function plainTelemetry(json: unknown): Telemetry | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined
  for (const key in json) if (key !== 'ts' && key !== 'seq' && key !== 'metrics' && key !== 'state') return undefined
  const { ts, seq: s, metrics, state } = json as Record<string, unknown>
  if (!Number.isSafeInteger(ts) || (ts as number) < 0) return undefined
  if (s !== undefined && (!Number.isSafeInteger(s) || (s as number) < 0)) return undefined
  if (state !== undefined && (typeof state !== 'string' || state.length > 64)) return undefined
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) return undefined
  for (const name in metrics) if (name.length === 0 || name.length > 64) return undefined
  return json as Telemetry
}

// Status is retained and usually a bare word (the last will says `offline`); JSON is accepted too.
function decodeStatus(payload: Buffer, ctx: DecodeContext): Decoded {
  const text = payload.toString('utf8').trim()
  let candidate: unknown = { status: text }
  if (text.startsWith('{')) {
    try { candidate = JSON.parse(text) } catch (err) { return reject('not_json', `payload is not JSON: ${(err as Error).message}`) }
  }
  const parsed = statusSchema.safeParse(candidate)
  if (!parsed.success) return reject('invalid_payload', `status must be one of ${DEVICE_STATUSES.join(', ')}; got ${JSON.stringify(text.slice(0, 40))}`)
  // Without a ts the status is stamped on arrival and marked so: rules place it in the device's
  // own event time instead (see the rule runner), so it cannot make later readings look late.
  const ts = parsed.data.ts ?? ctx.now
  const stamped = parsed.data.ts === undefined ? { detail: { tsFromArrival: true } } : {}
  return checkTime(ts, ctx) ?? accept(ctx, 'status', ts, undefined, payload, { state: parsed.data.status, ...stamped })
}

function checkTime(ts: number, ctx: DecodeContext): Decoded | undefined {
  if (ts > ctx.now + ctx.maxFutureMs) {
    return reject('future_timestamp', `ts ${new Date(ts).toISOString()} is ${Math.round((ts - ctx.now) / 1000)} s ahead of the gateway clock (limit ${ctx.maxFutureMs / 1000} s); check the device clock`)
  }
  if (ts < ctx.now - ctx.maxAgeMs) {
    return reject('past_retention', `ts ${new Date(ts).toISOString()} is older than the ${ctx.maxAgeMs / 86_400_000}-day readings retention window (READINGS_RETENTION_DAYS); check the device clock (ts is epoch milliseconds)`)
  }
  return undefined
}

function accept(
  ctx: DecodeContext, kind: StoredReading['kind'], ts: number, seq: number | undefined, payload: Buffer,
  fields: Partial<Pick<StoredReading, 'metrics' | 'state' | 'code' | 'detail'>>,
): Decoded {
  // Redelivery carries the same bytes: the seq when present, else a payload hash, makes it a no-op.
  const dedupKey = seq !== undefined ? `s${seq}` : createHash('sha1').update(payload).digest('base64url').slice(0, 16)
  return {
    ok: true,
    reading: {
      deviceId: ctx.deviceId, kind, ts, seq: seq ?? null, dedupKey, ...fields,
    },
  }
}

function reject(reason: RejectReason, detail: string): Decoded {
  return { ok: false, reason, detail }
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`).join('; ')
}
