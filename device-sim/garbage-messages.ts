import type { Prng } from './prng.js'
import type { DeviceTypeSpec } from './read-catalogue.js'

// 2100-01-01: always in the future, so a "future timestamp" stays refused however old the
// simulated time is — a past one would be accepted and push the device's event time ahead.
const FAR_FUTURE_MS = 4_102_444_800_000

/**
 * One malformed message of the kinds broken firmware sends. Each one is refused by ingest with a
 * different reason (not_json, invalid_payload, unknown_metric, wrong_type, out_of_range,
 * future_timestamp, unknown_topic) and must never turn into a reading or a ticket.
 */
export function garbageMessage(rng: Prng, deviceId: string, type: DeviceTypeSpec, ts: number): { topic: string; payload: string } {
  const telemetry = `devices/${deviceId}/telemetry`
  const metricNames = Object.keys(type.metrics)
  const metric = rng.pick(metricNames)
  const spec = type.metrics[metric]
  const body = (o: unknown) => JSON.stringify(o)
  switch (rng.int(9)) {
    case 0: return { topic: telemetry, payload: `${metric}=${rng.int(100)};ts=${ts}` }
    case 1: return { topic: telemetry, payload: body({ ts, metrics: { [metric]: 1 } }).slice(0, 12 + rng.int(8)) }
    case 2: return { topic: telemetry, payload: body({ ts, metrics: { [`${metric}_raw`]: rng.int(4096) } }) }
    case 3: return { topic: telemetry, payload: body({ ts, metrics: { [metric]: String(rng.int(100)) } }) }
    case 4: {
      const beyond = spec.max !== undefined ? spec.max + 1000 : spec.min !== undefined ? spec.min - 1000 : Number.MAX_VALUE
      return { topic: telemetry, payload: body({ ts, metrics: { [metric]: beyond } }) }
    }
    case 5: return { topic: telemetry, payload: body({ ts: FAR_FUTURE_MS, metrics: {} }) }
    case 6: return { topic: telemetry, payload: body({ ts, metrics: {}, firmware: '0.9.1-beta' }) }
    case 7: return { topic: `devices/${deviceId}/debug`, payload: `watchdog reset ${rng.int(1 << 16).toString(16)}` }
    default: return { topic: `devices/${deviceId}/events`, payload: body({ ts: 'yesterday', code: 'E??' }) }
  }
}
