import { Gauge } from 'prom-client'
import type { Metrics } from '../metrics.js'

/**
 * INGEST_MAX_PENDING's default: a bound on memory for any fleet, far above what the gateway holds
 * at its maximum, so that it acts only on a gateway already overloaded. Tighter bounds did better
 * once the gateway was overloaded and worse before it (bench/README.md, findings of the tenth
 * session): with 10,000 devices offering 20,000/s, above this host's maximum, a bound of 10,000
 * took the gateway's CPU a reading from 71–73 to 48–49 µs and PUBACK p50 from 8.2–9.3 s to
 * 1.2–2.1 s; but at 11,000/s, near the maximum, bounded gateways tipped into seconds of latency in
 * some rounds where the unbounded one never did, and a bound of 1,000 fell behind 24,000/s from
 * 1,000 devices.
 */
export const DEFAULT_MAX_PENDING = 50_000

/** Reads a connection's next packets (aedes's per-client `nextBatch`). */
export type ReadNext = (err?: Error | null) => void

/**
 * Admission control: a bound on the readings the gateway holds received and not yet answered
 * (stored and acknowledged, or refused), so that an overloaded gateway holds its devices back
 * instead of queueing without limit (DESIGN: "under overload hold PUBACKs").
 *
 * Without it, what the gateway held was bounded only by devices × the publishes each keeps in
 * flight: 10,000 devices offering 20,000 readings/s, above what the host stores, had ~80,000 in
 * the gateway, a heap of 750 MB and turns of seconds, and cost it half as much CPU a reading again
 * as with a bound of 10,000 (bench/README.md). Past the bound a device's next packets stay unparsed in its connection (Node
 * buffers up to 16 KB of it, the kernel the rest, and TCP holds the device back) until commits
 * catch up; the readings admitted go through at the speed of the database, and so do the faults
 * among them.
 *
 * `admit(readNext)` runs where aedes would read a device's connection again: now if there is room
 * and no connection waits before it, else when there is (first come, first read). Each call stands
 * for one that aedes made and is made exactly once, so aedes's own count of a device's packets in
 * hand stays right. Room is looked for again at each admit (every answered packet makes one) and by
 * `release` (after each committed batch is answered). Released reads are not spread over turns: a
 * budget of 5 ms a turn starved intake near the maximum.
 */
export function createAdmission(opts: { limit: number; unanswered: () => number; metrics: Metrics }) {
  const { limit, unanswered, metrics } = opts
  // Connections waiting for room, in the order they were first held (from `head` on), and the
  // calls each is owed. A socket that is not read fires 'readable' at every packet that arrives:
  // one entry a call was a million with 10,000 devices held, and taking the first off an array
  // that long copied the rest. Nor can a Map be the queue: an iteration from its front steps over
  // every entry deleted before it, and the loop stalled for seconds.
  let order: ReadNext[] = []
  let head = 0
  const owed = new Map<ReadNext, number>()
  // Read when scraped, not set at every release (one a held packet under overload).
  new Gauge({
    name: 'precall_ingest_held_reads', help: 'Device connections waiting to be read until commits make room (see precall_ingest_held_total)',
    registers: [metrics.registry],
    collect() { this.set(owed.size) },
  })

  function release(): void {
    if (owed.size === 0) return
    while (head < order.length && unanswered() < limit) {
      const readNext = order[head++]!
      const calls = owed.get(readNext)!
      owed.delete(readNext)
      for (let i = 0; i < calls; i++) readNext()
    }
    if (head === order.length) {
      order = []
      head = 0
    } else if (head > 1024 && head * 2 > order.length) {
      order = order.slice(head)
      head = 0
    }
  }

  return {
    admit(readNext: ReadNext, err?: Error | null): void {
      // An error is aedes's to report at once.
      if (err) return readNext(err)
      if (owed.size === 0 && unanswered() < limit) return readNext()
      const calls = owed.get(readNext)
      if (calls === undefined) order.push(readNext)
      owed.set(readNext, (calls ?? 0) + 1)
      metrics.ingestHeld.inc()
      release()
    },
    release,
    /** Connections waiting for room. */
    get held() {
      return owed.size
    },
  }
}
