import type { EventObservation, Observation, StatusObservation, TelemetryObservation } from '../../rules/observation.js'
import type { DeviceProfile } from '../fleet/device-directory.js'
import type { CommittedReading } from '../ingest/reading-writer.js'

/** A reading just committed, or one read back from `readings` (event time in epoch ms either way). */
export type StoredObservation = Pick<CommittedReading, 'deviceId' | 'ts' | 'seq' | 'metrics' | 'state' | 'code' | 'detail'> & { kind: string }
type Attributes = Pick<DeviceProfile, 'typeId' | 'attributes'>

/** A stored reading as the rule engine sees it, with the device attributes rules select on. */
export function toObservation(r: StoredObservation, device: Attributes): Observation {
  // Built field by field rather than by spreading: this runs for every reading.
  if (r.kind === 'event') {
    const o: EventObservation = { kind: 'event', deviceId: r.deviceId, deviceType: device.typeId, ts: r.ts, device: device.attributes, code: r.code ?? '' }
    if (r.seq !== null) o.seq = r.seq
    if (r.detail) o.detail = r.detail as Record<string, unknown>
    return o
  }
  if (r.kind === 'status') {
    return { kind: 'status', deviceId: r.deviceId, deviceType: device.typeId, ts: r.ts, device: device.attributes, status: r.state as StatusObservation['status'] }
  }
  const o: TelemetryObservation = { kind: 'telemetry', deviceId: r.deviceId, deviceType: device.typeId, ts: r.ts, device: device.attributes, metrics: r.metrics ?? {} }
  if (r.seq !== null) o.seq = r.seq
  if (r.state) o.state = r.state
  return o
}
