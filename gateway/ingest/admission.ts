import type { Metrics } from '../metrics.js'

/**
 * INGEST_MAX_PENDING's default: two full batches (INGEST_BATCH_MAX). Under overload the loop's
 * turns grow with what the gateway holds (each reads as many packets as the turn before answered):
 * `npm run bench:fixed -- --devices 10000 --rate 20000`, one round each, event-loop delay p99 134 ms
 * at 1,000, 1.1 s at 2,000, 2.1 s at 4,000 and 2.9 s unbounded. But with 1,000 devices at 24,000/s
 * a bound of 1,000 held the devices back below the offered rate (publishes skipped at their
 * in-flight cap), 2,000 did not (bench/README.md).
 */
export const DEFAULT_MAX_PENDING = 2000

/** Reads a connection's next packets (aedes's per-client `nextBatch`). */
export type ReadNext = (err?: Error | null) => void

/**
 * Admission control: a bound on the readings the gateway holds received and not yet answered
 * (stored and acknowledged, or refused), so that an overloaded gateway holds its devices back
 * instead of queueing without limit (DESIGN: "under overload hold PUBACKs").
 *
 * Without it, what the gateway held was bounded only by devices × the publishes each keeps in
 * flight: 10,000 devices at 20,000 readings/s, above what the host stores, kept ~80,000 in memory,
 * and every turn of the event loop read the whole backlog once (loop delay p99 2.7 s, a fault's
 * webhook 9.9 s behind it, a heap of 750 MB; bench/README.md). Past the bound a device's next
 * packets stay in its socket, where TCP flow control holds the device, until commits catch up;
 * the readings admitted still go through at the speed of the database, and so do the faults among
 * them, their tickets and the HTTP API.
 *
 * `admit(readNext)` runs where aedes would read a device's socket again: now if there is room and
 * no device waits before it, else when there is (first come, first read). Each call stands for one
 * that aedes made and is made exactly once, so aedes's own count of a device's packets in hand
 * stays right. Room is looked for again at each admit (every answered packet makes one) and by
 * `release` (after each committed batch is answered).
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
    metrics.ingestHeldReads.set(owed.size)
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

export type Admission = ReturnType<typeof createAdmission>
