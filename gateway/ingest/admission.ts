import type { Metrics } from '../metrics.js'

/** What admission counts (a broker thread forwards them to the gateway's Metrics). */
export type AdmissionMetrics = Pick<Metrics, 'countHeldReads'> & { ingestHeld: { inc(): void } }

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

/** A net.Socket's libuv handle, as net.js drives it. */
type SocketHandle = { reading: boolean; readStop(): number; readStart(): number }
/** A device's socket (a net.Socket; its `_handle` is Node's internal). */
export type HeldConnection = { _handle?: SocketHandle | null }

/**
 * The budget binds only once a turn has read this many connections: libuv polls again within its
 * poll phase only after a poll that answered a full 1,024 descriptors (its events array), so a turn
 * that has read fewer cannot be one of the phases that run on. With 1,000 devices at 22,000/s the
 * budget alone delayed reads in turns that were not: PUBACK p50 141–188 ms against 68–131 without
 * it (three alternating pairs).
 */
const LONG_POLL_CONNECTIONS = 1024

/**
 * INGEST_READ_BUDGET_MS's default. With 5,000 devices offering 19,000 readings/s (this host's
 * maximum that day), three alternating pairs of two rounds: event-loop delay max 237–307 ms against
 * 2,023–2,856, fault→webhook p50 720–981 ms against 3,335–5,015, the gateway 44.8–47.7 µs a
 * reading against 48.3–54.2; at half load (1,000 devices at 12,000/s) no change beyond the
 * round-to-round noise (PUBACK p99 36–218 ms against 29–148). A budget of 10 ms without stopping
 * the socket (thirteenth session) made half-load PUBACK p99 worse.
 */
export const DEFAULT_READ_BUDGET_MS = 20

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
 * `admitter(readNext, socket)` is made once a connection, and what it answers runs where aedes would
 * read the connection again: now if there is room and no connection waits before it, else when
 * there is (first come, first read). Each call stands
 * for one that aedes made and is made exactly once, so aedes's own count of a device's packets in
 * hand stays right. Room is looked for again at each admit (every answered packet makes one) and by
 * `release` (after each committed batch is answered).
 *
 * `readBudgetMs` bounds how long device reads may hold one turn of the event loop once the turn has
 * read at least 1,024 connections (LONG_POLL_CONNECTIONS). libuv's poll
 * phase does not end while each poll answers a full 1,024 ready sockets (up to 48 polls), and with
 * thousands of devices near the gateway's maximum they do: turns of 1.6–2.8 s, in which no timer or
 * immediate ran, so a fault's webhook waited for undici's idle-socket check (a `setImmediate`) and
 * answers for their next slice (bench/README.md, fourteenth session). Past the budget connections
 * are held as above, and read from the turn's check phase on, oldest first, within the budget again.
 * A held connection (for time or for room) also stops reading its socket until it is released, so
 * that it raises no more events meanwhile: held, it still cost a read and an event every packet.
 * 0 turns the budget off.
 */
export function createAdmission(opts: {
  limit: number; unanswered: () => number; metrics: AdmissionMetrics; readBudgetMs?: number
  /** Connections a turn reads before the budget binds (LONG_POLL_CONNECTIONS; tests take fewer). */
  longPollConnections?: number
}) {
  const { limit, unanswered, metrics } = opts
  const budgetMs = opts.readBudgetMs ?? 0
  const longPoll = opts.longPollConnections ?? LONG_POLL_CONNECTIONS
  /**
   * A connection, and what admission keeps for it: the reads it is owed while held (0: not held),
   * whether its socket was stopped, to start again when it is released, and the turn it was last
   * read in (so that a turn counts each connection it reads once).
   */
  type Connection = { readNext: ReadNext; socket?: HeldConnection; owed: number; stopped: boolean; readInTurn: number }
  // Held connections in the order they were first held (from `head` on), each once. A socket that
  // is not read fires 'readable' at every packet that arrives: one entry a call was a million with
  // 10,000 devices held, and taking the first off an array that long copied the rest. Nor can a
  // Map be the queue: an iteration from its front steps over every entry deleted before it, and the
  // loop stalled for seconds.
  let order: Connection[] = []
  let head = 0
  let held = 0
  // When this turn's first device read began (-1: none yet), and how many connections it has read;
  // reset in the turn's check phase.
  let turnStarted = -1
  let turn = 0
  let readThisTurn = 0

  /**
   * Whether this turn's reads have spent the budget; the first read of a turn starts its clock. The
   * clock is read only once the turn has read enough connections for the budget to bind, so a fleet
   * under 1,024 devices pays one clock read a turn, not one a read.
   */
  function overBudget(): boolean {
    if (budgetMs <= 0) return false
    if (turnStarted < 0) {
      turnStarted = performance.now()
      setImmediate(endTurn)
      return false
    }
    return readThisTurn >= longPoll && performance.now() - turnStarted > budgetMs
  }

  function read(connection: Connection) {
    if (budgetMs > 0 && connection.readInTurn !== turn) {
      connection.readInTurn = turn
      readThisTurn++
    }
    connection.readNext()
  }

  function endTurn() {
    turnStarted = -1
    turn++
    readThisTurn = 0
    release()
  }
  // Read when scraped, not set at every release (one a held packet under overload).
  metrics.countHeldReads(() => held)

  function release(): void {
    if (held === 0) return
    while (head < order.length && unanswered() < limit && !overBudget()) {
      const connection = order[head++]!
      const calls = connection.owed
      connection.owed = 0
      held--
      if (connection.stopped) {
        connection.stopped = false
        // Gone if the device hung up meanwhile; aedes's read then finds it closed.
        const handle = connection.socket?._handle
        if (handle && !handle.reading) {
          handle.reading = true
          handle.readStart()
        }
      }
      for (let i = 0; i < calls; i++) read(connection)
    }
    if (head === order.length) {
      order = []
      head = 0
    } else if (head > 1024 && head * 2 > order.length) {
      order = order.slice(head)
      head = 0
    }
  }

  /** Stops `socket` reading; whether it was reading, to be started again. */
  function stopReading(socket: HeldConnection): boolean {
    const handle = socket._handle
    // Node's own socket internals (net.js stops and starts reading a handle this way when its buffer
    // fills and drains): without them, a held connection is only held.
    if (!handle?.reading || typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function') return false
    handle.reading = false
    handle.readStop()
    return true
  }

  function admit(connection: Connection, err?: Error | null): void {
    // An error is aedes's to report at once.
    if (err) return connection.readNext(err)
    if (held === 0 && unanswered() < limit && !overBudget()) return read(connection)
    if (connection.owed === 0) {
      order.push(connection)
      held++
    }
    connection.owed++
    if (connection.socket && !connection.stopped) connection.stopped = stopReading(connection.socket)
    metrics.ingestHeld.inc()
    release()
  }

  return {
    /**
     * What aedes calls, for a connection, where it would read `readNext` again; made once a
     * connection. `socket`, the socket `readNext` reads: held, it stops reading until released.
     */
    admitter(readNext: ReadNext, socket?: HeldConnection): ReadNext {
      const connection: Connection = { readNext, socket, owed: 0, stopped: false, readInTurn: -1 }
      return (err) => admit(connection, err)
    },
    release,
    /** Connections waiting for room or for the next turn. */
    get held() {
      return held
    },
  }
}
