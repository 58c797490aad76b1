import { closeSync, openSync, writeSync } from 'node:fs'
import type { SimItem } from './device-stream.js'

/**
 * Writes what the fleet published as JSON lines `{"deviceId","topic","payload","deviceType"}` in
 * event-time order — the format `npm run replay` reads (`deviceType` spares it a --types file).
 * `payload` is the exact text that went over MQTT.
 * A lost connection is written as the last will the broker published for it, stamped with the
 * event time of the loss (`{"status":"offline","ts":…}`), since a replay has no broker clock.
 */
export function createRecorder(file: string, deviceTypeOf: (deviceId: string) => string | undefined = () => undefined) {
  const fd = openSync(file, 'w')
  let lines = 0
  return {
    write(items: readonly SimItem[]) {
      let chunk = ''
      for (const item of items) {
        const deviceType = deviceTypeOf(item.deviceId)
        if (item.kind === 'publish') {
          chunk += `${JSON.stringify({ deviceId: item.deviceId, topic: item.topic, payload: item.payload, deviceType })}\n`
        } else if (item.kind === 'drop') {
          const payload = JSON.stringify({ status: 'offline', ts: item.ts })
          chunk += `${JSON.stringify({ deviceId: item.deviceId, topic: `devices/${item.deviceId}/status`, payload, deviceType })}\n`
        } else continue
        lines++
      }
      // Synchronous on purpose: the recording must hold exactly what was handed to the broker,
      // in order, even if the run is interrupted.
      if (chunk) writeSync(fd, chunk)
    },
    get lines() {
      return lines
    },
    close() {
      closeSync(fd)
    },
  }
}

export type Recorder = ReturnType<typeof createRecorder>
