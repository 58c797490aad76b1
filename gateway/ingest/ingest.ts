import type { Logger } from 'pino'
import type { DeviceDirectory, DeviceProfile } from '../fleet/device-directory.js'
import type { Metrics } from '../metrics.js'
import { decodeMessage, type RejectReason } from './decode.js'
import type { ReadingWriter } from './reading-writer.js'

export type IngestOutcome =
  | { ok: true; result: 'stored' | 'duplicate' }
  | { ok: false; reason: RejectReason | 'unknown_device'; detail: string }

const TOPIC = /^devices\/([^/]+)\/([^/]+)$/

/** Parses `devices/<id>/<channel>`; undefined for anything else. */
export function parseDeviceTopic(topic: string): { deviceId: string; channel: string } | undefined {
  const m = TOPIC.exec(topic)
  return m ? { deviceId: m[1], channel: m[2] } : undefined
}

/**
 * One message from a device, from whichever broker: decode, validate against the device's type,
 * append durably. Resolves once the reading is committed; a rejection is counted, logged without
 * the payload and kept in `rejections`. Throws only when the store itself fails, so the broker
 * withholds the acknowledgement and the device sends again.
 */
export function createIngest(opts: {
  directory: DeviceDirectory
  writer: ReadingWriter
  metrics: Metrics
  log: Logger
  maxFutureMs: number
  now?: () => number
}) {
  const { directory, writer, metrics, log } = opts
  const now = opts.now ?? Date.now

  function refuse(deviceId: string | null, topic: string, reason: IngestOutcome & { ok: false }, payload: Buffer): IngestOutcome {
    metrics.readingsRejected.inc({ reason: reason.reason })
    log.warn({ deviceId, topic, reason: reason.reason, detail: reason.detail }, 'message refused')
    writer.recordRejection({ deviceId, topic, reason: reason.reason, detail: reason.detail, payload }).catch((err) => {
      log.error({ err }, 'could not keep a refused message')
    })
    return reason
  }

  function store(device: DeviceProfile, deviceId: string, channel: string, topic: string, payload: Buffer): Promise<IngestOutcome> | IngestOutcome {
    const decoded = decodeMessage(channel, payload, { deviceId, metrics: device.metrics, now: now(), maxFutureMs: opts.maxFutureMs })
    if (!decoded.ok) return refuse(deviceId, topic, { ok: false, reason: decoded.reason, detail: decoded.detail }, payload)
    return writer.append(decoded.reading).then((result) => (result === 'stored' ? STORED : DUPLICATE))
  }

  return {
    // Not async: a known device's reading goes straight to the writer, without extra promise hops.
    ingest(deviceId: string, channel: string, topic: string, payload: Buffer): Promise<IngestOutcome> {
      const known = directory.peek(deviceId)
      if (known) return Promise.resolve(store(known, deviceId, channel, topic, payload))
      return directory.get(deviceId).then((device) => device
        ? store(device, deviceId, channel, topic, payload)
        : refuse(null, topic, { ok: false, reason: 'unknown_device', detail: `device ${deviceId} is not registered` }, payload))
    },
  }
}

const STORED: IngestOutcome = Object.freeze({ ok: true, result: 'stored' })
const DUPLICATE: IngestOutcome = Object.freeze({ ok: true, result: 'duplicate' })

export type Ingest = ReturnType<typeof createIngest>
