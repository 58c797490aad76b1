import type { Logger } from 'pino'
import type { DeviceDirectory, DeviceProfile } from '../fleet/device-directory.js'
import type { Metrics } from '../metrics.js'
import { decodeMessage, type RejectReason } from './decode.js'
import type { Done } from './group-commit.js'
import type { ReadingWriter } from './reading-writer.js'

type Refusal = { reason: RejectReason | 'unknown_device'; detail: string }

/**
 * One message from a device, from whichever broker: decode, validate against the device's type,
 * append durably. `done` runs once the reading is committed, or at once for a message refused: a
 * refusal is counted, logged without the payload and kept in `rejections`. `done` gets an error
 * only when the store itself failed, so the broker withholds the acknowledgement and the device
 * sends again.
 */
export function createIngest(opts: {
  directory: DeviceDirectory
  writer: ReadingWriter
  metrics: Metrics
  log: Logger
  maxFutureMs: number
  /** The readings retention window: older readings are refused (`past_retention`). */
  maxAgeMs: number
  now?: () => number
}) {
  const { directory, writer, metrics, log } = opts
  const now = opts.now ?? Date.now

  function refuse(deviceId: string | null, topic: string, refusal: Refusal, payload: Buffer, done: Done<unknown>) {
    metrics.readingsRejected.inc({ reason: refusal.reason })
    log.warn({ deviceId, topic, reason: refusal.reason, detail: refusal.detail }, 'message refused')
    writer.recordRejection({ deviceId, topic, reason: refusal.reason, detail: refusal.detail, payload }).catch((err) => {
      log.error({ err }, 'could not keep a refused message')
    })
    done(null)
  }

  function store(device: DeviceProfile, deviceId: string, channel: string, topic: string, payload: Buffer, done: Done<unknown>) {
    const decoded = decodeMessage(channel, payload, { deviceId, metrics: device.metrics, now: now(), maxFutureMs: opts.maxFutureMs, maxAgeMs: opts.maxAgeMs })
    if (!decoded.ok) return refuse(deviceId, topic, decoded, payload, done)
    writer.append(decoded.reading, done)
  }

  return {
    /** Made once a device connection: where a broker reads it again, at once or when ingest has room (see createAdmission). */
    admitter: writer.admitter,
    ingest(deviceId: string, channel: string, topic: string, payload: Buffer, done: Done<unknown>): void {
      const known = directory.peek(deviceId)
      if (known) return store(known, deviceId, channel, topic, payload, done)
      directory.get(deviceId).then((device) => device
        ? store(device, deviceId, channel, topic, payload, done)
        : refuse(null, topic, { reason: 'unknown_device', detail: `device ${deviceId} is not registered` }, payload, done), done)
    },
  }
}

export type Ingest = ReturnType<typeof createIngest>
