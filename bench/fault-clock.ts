import { once } from 'node:events'
import { createServer } from 'node:http'
import { createLatencyHistogram } from '../device-sim/latency-histogram.js'

// Every system is judged by the same fault: a washer drive drawing 15 A, above the catalogue's
// `washer-motor-overcurrent` threshold of 12 A, which fires on a single reading.
export const FAULT_METRIC = 'motor_current_a'
export const FAULT_THRESHOLD = 12

/**
 * A healthy washer reading; `fault` sets the drive current over the threshold. The drain time
 * holds still: a bench device reports many times a second, and any wobble in it would look to the
 * catalogue's trend rule like a pump heading for failure within the hour.
 */
export function washerReading(seq: number, fault: boolean): string {
  return `{"ts":${Date.now()},"seq":${seq},"metrics":{"drain_time_s":55,"motor_current_a":${fault ? 15 : 3.5},"water_temp_c":40,"vibration_mm_s":4.5}}`
}

export type FaultFigures = { injected: number; alerted: number; p50Ms: number; p99Ms: number; maxMs: number }

/**
 * Injects faults into a load and times each until the alert about it reaches a local HTTP
 * receiver: a precall webhook (`data.ticket.deviceId`) or a baseline's plain alert (`deviceId`).
 * A device carries at most one fault in flight, and sends a healthy reading between two faults
 * so each fault is a new rising edge; an alert for no pending fault is counted, not timed.
 */
export async function startFaultClock() {
  const pending = new Map<string, number>()
  // Devices whose last reading was a fault, kept across steps and fleets: a fault straight after
  // the previous step's last one would be no new rising edge, so no alert, and would count as lost.
  // (Remembering the fault's seq instead went wrong when a new fleet started its seqs from 0: a
  // system run after one that had reached high seqs got no faults at all.)
  const lastWasFault = new Set<string>()
  let hist = createLatencyHistogram()
  let injected = 0, alerted = 0, unmatched = 0

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = performance.now()
      res.writeHead(204).end()
      let deviceId: string | undefined
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        deviceId = body.deviceId ?? body.data?.ticket?.deviceId
      } catch { /* counted below as unmatched */ }
      const t0 = deviceId === undefined ? undefined : pending.get(deviceId)
      if (t0 === undefined) { unmatched++; return }
      pending.delete(deviceId!)
      hist.record(at - t0)
      alerted++
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/alerts`

  return {
    url,
    /** A payload function for the load generator that injects `perSecond` faults across `deviceIds`. */
    payload(deviceIds: string[], perSecond: number) {
      const gapMs = perSecond > 0 ? 1000 / perSecond : Infinity
      let nextAt = performance.now() + gapMs
      return (i: number, seq: number): string => {
        const now = performance.now()
        const deviceId = deviceIds[i]
        if (now < nextAt || pending.has(deviceId) || lastWasFault.has(deviceId)) {
          lastWasFault.delete(deviceId)
          return washerReading(seq, false)
        }
        nextAt = Math.max(nextAt + gapMs, now - 1000)
        lastWasFault.add(deviceId)
        pending.set(deviceId, now)
        injected++
        return washerReading(seq, true)
      }
    },
    /** The figures since the last reset, then a fresh start (faults still pending are dropped). */
    reset(): FaultFigures & { unmatched: number } {
      const figures = { injected, alerted, unmatched, p50Ms: hist.percentile(0.5), p99Ms: hist.percentile(0.99), maxMs: hist.max() }
      pending.clear()
      hist = createLatencyHistogram()
      injected = alerted = unmatched = 0
      return figures
    },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

export type FaultClock = Awaited<ReturnType<typeof startFaultClock>>
