import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { Clearance, Detection } from '../../rules/detection.js'
import type { Config } from '../config/load-config.js'
import type { Metrics } from '../metrics.js'
import type { OutboxLease } from '../outbox/outbox-store.js'
import { countClearance, countDetection, type Customer, type DetectionIntake, type DetectionOutcome } from './detection-intake.js'
import type { OutboxLink, Queued } from './ticket-change.js'
import type { TicketJson } from './ticket-json.js'

/** What the thread is started with (see detection-thread-worker.ts). */
export type DetectionThreadData = { url: string; poolSize: number; policy: Config['tickets'] }

/**
 * A request to the thread. The time and the local dispatcher's lease are taken here, as the
 * in-thread intake takes them when it starts, so both come from the gateway's clock and dispatcher.
 */
export type DetectionRequest = { id: number; at: number; lease: OutboxLease | undefined } & DetectionOp
type DetectionOp = { op: 'record'; detection: Detection; customer: Customer } | { op: 'clear'; clearance: Clearance }

export type DetectionReply =
  | { id: number; ok: true; value: DetectionOutcome | TicketJson | undefined; queued: Queued | undefined }
  | { id: number; ok: false; error: { message: string; cause?: string; stack?: string; code?: string } }

type ThreadMessage = DetectionReply | { ready: true } | { failed: string }

/** Connections of the thread's own pool: the rule runner records up to 8 ticket changes at once. */
export const DETECTION_POOL_SIZE = 8

// The gateway runs under tsx, whose loader a worker does not inherit: the thread registers it first.
const ENTRY = new URL('./detection-thread-worker.ts', import.meta.url).href
const BOOT = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ENTRY)}) })`

/**
 * Records detections and clearances on a thread of its own, with its own PostgreSQL pool: the
 * ticket's transaction (three round trips) and what it queued reach the gateway's thread as one
 * message. On the gateway's thread each round trip waited for a turn of its event loop, and a
 * turn of a saturated gateway reads every device socket that is ready: a fault fell seconds
 * behind the readings around it (bench/README.md). The webhook still leaves from the gateway's
 * dispatcher, handed what the transaction queued as soon as the answer arrives.
 *
 * The same interface as `createDetectionIntake`; metrics are counted here. A thread that dies
 * fails what it had in hand (the rule runner logs it, as any failed ticket change) and is started
 * again for the next request.
 */
export async function startDetectionThread(opts: {
  data: DetectionThreadData
  metrics: Metrics
  log: Logger
  now: () => number
} & OutboxLink): Promise<DetectionIntake & { close(): Promise<void> }> {
  const { metrics, log } = opts
  const pending = new Map<number, { resolve(reply: DetectionReply): void; reject(err: Error): void }>()
  let nextId = 1
  let closing = false
  let thread: Promise<Worker> | undefined = start()
  let running: Worker | undefined

  function start(): Promise<Worker> {
    const worker = new Worker(BOOT, { eval: true, workerData: opts.data, name: 'precall detections' })
    const started = new Promise<Worker>((resolve, reject) => {
      worker.on('message', (m: ThreadMessage) => {
        if ('ready' in m) {
          running = worker
          return resolve(worker)
        }
        if ('failed' in m) return reject(new Error(`the detection thread could not start: ${m.failed}`))
        const waiting = pending.get(m.id)
        pending.delete(m.id)
        waiting?.resolve(m)
      })
      worker.on('error', (err) => {
        log.error({ err }, 'detection thread failed')
        reject(err)
      })
      worker.on('exit', (code) => {
        reject(new Error(`the detection thread exited (${code}) before it was ready`))
        if (!closing) log.error({ code }, 'detection thread exited; the next detection starts another')
        thread = running = undefined
        const lost = [...pending.values()]
        pending.clear()
        for (const p of lost) p.reject(new Error(`the detection thread exited (${code}) with this change in hand`))
      })
    })
    started.catch(() => { /* the request that waits for it gets the error */ })
    return started
  }

  async function call(request: DetectionOp): Promise<DetectionReply & { ok: true }> {
    if (closing) throw new Error('the detection thread is closing')
    // Posted before this returns when the thread is up: the transaction starts while this thread
    // goes on with its turn.
    const worker = running ?? await (thread ??= start())
    const at = opts.now()
    const id = nextId++
    const reply = await new Promise<DetectionReply>((resolve, reject) => {
      pending.set(id, { resolve, reject })
      const message: DetectionRequest = { ...request, id, at, lease: opts.outboxLease?.(new Date(at)) }
      worker.postMessage(message)
    })
    if (!reply.ok) throw threadError(reply.error)
    if (reply.queued) opts.onOutbox?.(reply.queued)
    return reply
  }

  await thread
  return {
    async record(d: Detection, customer: Customer): Promise<DetectionOutcome> {
      const { customerId, customerTags, customerTimezone } = customer
      const { value } = await call({ op: 'record', detection: d, customer: { customerId, customerTags, customerTimezone } })
      const outcome = value as DetectionOutcome
      countDetection(metrics, d, outcome)
      return outcome
    },
    async clear(c: Clearance): Promise<TicketJson | undefined> {
      const { value } = await call({ op: 'clear', clearance: c })
      if (value) countClearance(metrics)
      return value as TicketJson | undefined
    },
    /** After the last request was answered: the thread closes its pool and exits. */
    async close() {
      closing = true
      const worker = await thread?.catch(() => undefined)
      if (!worker) return
      const exited = new Promise((resolve) => worker.once('exit', resolve))
      worker.postMessage({ op: 'close' })
      await exited
    },
  }
}

/** The thread's error as the in-thread intake would have thrown it: its SQLSTATE on its cause (see sqlState). */
function threadError(e: { message: string; cause?: string; stack?: string; code?: string }): Error {
  const cause = e.cause === undefined && e.code === undefined ? undefined : Object.assign(new Error(e.cause ?? e.message), { code: e.code })
  return Object.assign(new Error(e.message, { cause }), { stack: e.stack })
}
