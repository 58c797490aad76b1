import type { Observation } from '../../rules/observation.js'
import type { DeviceProfile } from '../fleet/device-directory.js'
import type { CommittedReading } from '../ingest/reading-writer.js'

export type StoredObservation = Pick<CommittedReading, 'deviceId' | 'ts' | 'seq' | 'metrics' | 'state' | 'code' | 'detail'> & { kind: string }
type Attributes = Pick<DeviceProfile, 'typeId' | 'attributes'>

/** A stored reading as the rule engine sees it, with the device attributes rules select on. */
export function toObservation(r: StoredObservation, device: Attributes): Observation {
  const base = { deviceId: r.deviceId, deviceType: device.typeId, ts: r.ts.getTime(), device: device.attributes }
  if (r.kind === 'event') {
    return { ...base, kind: 'event', code: r.code ?? '', ...(r.seq !== null ? { seq: r.seq } : {}), ...(r.detail ? { detail: r.detail as Record<string, unknown> } : {}) }
  }
  if (r.kind === 'status') return { ...base, kind: 'status', status: r.state as 'online' | 'offline' | 'powered_off' }
  return { ...base, kind: 'telemetry', metrics: r.metrics ?? {}, ...(r.seq !== null ? { seq: r.seq } : {}), ...(r.state ? { state: r.state } : {}) }
}
