// The broker's side of `npm run bench:handoff` (bench/thread-handoff.ts): packs readings into
// transferred batches, 8 in flight at most. Plain JavaScript, since tsx's loader is not registered
// in a worker's thread on Node 20; it makes the same readings as the main thread's baseline.
import { parentPort, workerData } from 'node:worker_threads'

const IN_FLIGHT = 8
const { batch, items, payload: text } = workerData
const payload = Buffer.from(text)
const deviceIdOf = (n) => `wm-${String(n % 5000).padStart(5, '0')}`
const encoder = new TextEncoder()
let next = 1
let sent = 0
let inFlight = 0

function send() {
  while (inFlight < IN_FLIGHT && sent < items) {
    const packed = new ArrayBuffer(2 + batch * (4 + 1 + 16 + 1 + 40 + 2 + payload.length))
    const view = new DataView(packed)
    const bytes = new Uint8Array(packed)
    let at = 2
    for (let i = 0; i < batch; i++) {
      const deviceId = deviceIdOf(next)
      view.setUint32(at, next++)
      at += 4
      for (const part of [deviceId, `devices/${deviceId}/telemetry`]) {
        const { written } = encoder.encodeInto(part, bytes.subarray(at + 1))
        bytes[at] = written
        at += 1 + written
      }
      view.setUint16(at, payload.length)
      bytes.set(payload, at + 2)
      at += 2 + payload.length
    }
    view.setUint16(0, batch)
    parentPort.postMessage(packed, [packed])
    inFlight++
    sent += batch
  }
}

parentPort.on('message', (message) => {
  if (message !== 'go') inFlight--
  send()
})
parentPort.postMessage('ready')
