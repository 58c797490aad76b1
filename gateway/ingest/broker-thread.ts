import { Worker } from 'node:worker_threads'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import type { Ingest } from './ingest.js'
import type { MqttBroker, PublishOptions } from './mqtt-broker.js'
import type { MqttLogins } from './mqtt-logins.js'
import { createPendingCalls, ITEM_HEADER_BYTES, type BrokerThreadSettings, type FromBroker, type ToBroker } from './broker-thread-protocol.js'

const ANSWERS = 1024

/**
 * The broker thread's semi-space, in MB (V8's default on 64 bits). `npm start` gives the event
 * loop's thread 64 MB (`--max-semi-space-size=64`, README), and V8 takes that flag over a worker's
 * `resourceLimits`, so the broker's thread had a young generation as large: with 10,000 devices at
 * 10,000/s its new space held 112 MB, and RSS was 751 MB; started with 16 MB, 29 MB and 581 MB, the
 * gateway's CPU a reading 94.0 against 99.5 µs (bench/README.md, sixteenth session).
 */
const BROKER_SEMI_SPACE_MB = 16

/**
 * Starts a thread with V8's semi-space at `mb` while its isolate is made, and sets the process's
 * own value back once the thread is running. V8 reads the flag when it sizes an isolate's heap,
 * and the event loop's heap was sized at start. Nothing to do without the flag: `mb` is the default.
 */
async function withYoungGeneration(mb: number, start: () => Worker): Promise<Worker> {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const own = flags.map((flag) => /^--max-semi-space-size=(\d+)$/.exec(flag)?.[1]).findLast((value) => value !== undefined)
  if (own === undefined) return start()
  setFlagsFromString(`--max-semi-space-size=${mb}`)
  try {
    const worker = start()
    await once(worker, 'online')
    return worker
  } finally {
    setFlagsFromString(`--max-semi-space-size=${own}`)
  }
}


export type BrokerThreadOptions = {
  host: string
  port: number
  maxPacketBytes: number
  maxPending: number
  readBudgetMs: number
  logins: Pick<MqttLogins, 'authenticate'>
  ingest: Pick<Ingest, 'ingest'>
  metrics: Metrics
  log: Logger
  /** Called with each broker thread started, the first and any restarted (tests end one this way). */
  onThread?: (worker: Worker) => void
}

/** After an unexpected stop, the first wait before starting again; it doubles up to the last while threads keep stopping soon. */
const RESTART_FIRST_MS = 100
const RESTART_LAST_MS = 30_000
/** A thread that ran this long before it stopped restarts after the first wait again. */
const RAN_WELL_MS = 60_000

/**
 * The embedded broker on a second thread (MQTT_BROKER_THREAD=true): parsing, acknowledgements and
 * the sockets' system calls, ~30 µs a reading of bare aedes's thread, leave the event loop's thread
 * to storing, rules and tickets. The broker thread runs startMqttBroker with admission, ACLs and the
 * packet limit as on one thread; what it cannot do itself crosses as messages (see `startThread`).
 *
 * A thread that stops without being closed (an uncaught error, its heap exhausted) is started again
 * on the same port, after 0.1 s and then, while new threads keep stopping within a minute, after
 * waits that double up to 30 s. Its devices lose their connections and reconnect; what they had
 * sent and not had acknowledged they send again (a reading stored twice is ignored), so nothing
 * acknowledged is lost. Meanwhile readyz fails and the gateway's publishes are refused.
 */
export async function startBrokerThread(opts: BrokerThreadOptions): Promise<MqttBroker> {
  const { metrics, log } = opts
  let thread: BrokerThread | undefined = await startThread(opts, opts.port)
  const port = thread.port
  // Aborted by close: it also ends a wait before a restart.
  const closing = new AbortController()
  const closed = () => closing.signal.aborted
  metrics.countHeldReads(() => thread?.heldReads ?? 0)
  // A scrape waits for the broker thread to answer: it sends what it had counted (refusals,
  // connections, held reads) first, so /metrics is as current as the devices' view of the broker.
  metrics.beforeScrape(async () => { await thread?.sync() })

  /** Waits for the running thread to exit and, unless closed, starts another, for as long as the gateway runs. */
  async function keepRunning(first: BrokerThread): Promise<void> {
    let wait = RESTART_FIRST_MS
    for (let running = first; ;) {
      const startedAt = Date.now()
      const exitCode = await running.exit
      if (closed()) return
      thread = undefined
      log.error({ exitCode, port }, 'the broker thread stopped: devices are disconnected until it is started again')
      if (Date.now() - startedAt >= RAN_WELL_MS) wait = RESTART_FIRST_MS
      let next: BrokerThread | undefined
      while (!next) {
        if (!(await sleep(wait, true, { signal: closing.signal }).catch(() => false))) return
        wait = Math.min(wait * 2, RESTART_LAST_MS)
        next = await startThread(opts, port).catch((err: unknown) => {
          log.error({ err, port, nextAttemptInMs: wait }, 'the broker thread could not be started again')
          return undefined
        })
      }
      if (closed()) return void (await next.close())
      thread = running = next
      metrics.brokerThreadRestarts.inc()
      log.warn({ port }, 'the broker thread was started again')
    }
  }

  const supervising = keepRunning(thread)
  return {
    port,
    /** False while no broker thread runs (closed, or stopped and not yet started again): readyz fails. */
    get running() {
      return thread?.running ?? false
    },
    publish: (topic, payload, o) => thread
      ? thread.publish(topic, payload, o)
      : Promise.reject(new Error(closed() ? 'the broker is closed' : 'the broker thread stopped and is being started again')),
    async close() {
      closing.abort()
      await thread?.close()
      await supervising
    },
  }
}

type BrokerThread = Awaited<ReturnType<typeof startThread>>

/**
 * One broker thread, listening on `port`. Across the threads:
 * - readings go to `ingest` in batches (a transferred buffer a turn of the broker's loop), and the
 *   ids of those answered come back in batches (one a run of answers), so a device is still
 *   acknowledged only once its reading is committed;
 * - a client's credentials are checked against `logins` here;
 * - the gateway's publishes (commands, notices) go to the broker;
 * - its counts and log lines come to `metrics` and `log`.
 * `exit` settles with the exit code when the thread exits, closed or not.
 * The broker thread's module is TypeScript: a small JavaScript entry registers tsx's loader in the
 * thread first, since on Node 20 it is not inherited.
 */
async function startThread(opts: BrokerThreadOptions, port: number) {
  const { logins, ingest, metrics, log } = opts
  const settings: BrokerThreadSettings = {
    host: opts.host, port, maxPacketBytes: opts.maxPacketBytes, maxPending: opts.maxPending, readBudgetMs: opts.readBudgetMs,
    logLevels: (['debug', 'warn', 'error'] as const).filter((level) => log.isLevelEnabled(level)),
  }
  const worker = await withYoungGeneration(BROKER_SEMI_SPACE_MB, () => new Worker(new URL('./broker-thread-entry.mjs', import.meta.url), {
    workerData: { module: new URL('./broker-thread-worker.ts', import.meta.url).href, settings },
  }))
  opts.onThread?.(worker)
  let closing = false
  let exited = false
  let heldReads = 0
  // The connections this thread counted in the clients gauge, taken off it when the thread exits.
  let clients = 0
  const syncs: (() => void)[] = []
  // Nothing reaches a thread that has exited: answers to its readings are dropped, and their
  // devices send them again to the next thread.
  const post = (message: ToBroker, transfer?: ArrayBuffer[]) => {
    if (!exited) worker.postMessage(message, transfer)
  }

  // Answers collected while the event loop's thread runs, sent once it has done (a microtask), as
  // a copy of those collected.
  let answered = new Uint32Array(ANSWERS)
  let count = 0
  let failed: [number, string][] = []
  let sendQueued = false
  function sendAnswers() {
    sendQueued = false
    const ids = answered.buffer.slice(0, count * 4) as ArrayBuffer
    post({ t: 'answers', buffer: ids, count, failed }, [ids])
    count = 0
    failed = []
  }
  function answer(seq: number, err: unknown) {
    if (err == null) {
      if (count === answered.length) {
        const larger = new Uint32Array(answered.length * 2)
        larger.set(answered)
        answered = larger
      }
      answered[count++] = seq
    } else {
      failed.push([seq, err instanceof Error ? err.message : String(err)])
    }
    if (!sendQueued) {
      sendQueued = true
      queueMicrotask(sendAnswers)
    }
  }

  // A topic's code, as the broker's thread gave it.
  let topics: { deviceId: string; channel: string; topic: string }[] = []
  function readings(message: Extract<FromBroker, { t: 'readings' }>) {
    if (message.resetTopics) topics = []
    for (const [code, deviceId, channel, topic] of message.topics) topics[code] = { deviceId, channel, topic }
    if (message.held > 0) metrics.ingestHeld.inc(message.held)
    heldReads = message.heldReads
    const view = new DataView(message.buffer)
    for (let at = 0, i = 0; i < message.items; i++) {
      const seq = view.getUint32(at)
      const target = topics[view.getUint32(at + 4)]!
      const length = view.getUint32(at + 8)
      const payload = Buffer.from(message.buffer, at + ITEM_HEADER_BYTES, length)
      at += ITEM_HEADER_BYTES + length
      ingest.ingest(target.deviceId, target.channel, target.topic, payload, (err) => answer(seq, err))
    }
  }

  const publishes = createPendingCalls<void>()
  let closedByBroker: (() => void) | undefined

  worker.on('message', (message: FromBroker) => {
    switch (message.t) {
      case 'readings':
        return readings(message)
      case 'auth':
        logins.authenticate(message.username, message.password).then(
          (login) => post({ t: 'auth', id: message.id, login: login ?? null }),
          (err: unknown) => post({ t: 'auth', id: message.id, login: null, error: String(err) }),
        )
        return
      case 'published':
        return publishes.settle(message.id, message.error, undefined)
      case 'refused':
        return metrics.connectionsRefused.inc({ reason: message.reason })
      case 'clients':
        clients += message.by
        return metrics.mqttClients.inc(message.by)
      case 'log':
        return log[message.level](message.fields, message.message)
      case 'synced':
        return syncs.shift()?.()
      case 'closed':
        return closedByBroker?.()
    }
  })
  worker.on('error', (err) => log.error({ err }, 'the broker thread failed'))
  const exit = new Promise<number>((resolve) => worker.on('exit', (exitCode) => {
    exited = true
    heldReads = 0
    metrics.mqttClients.dec(clients)
    clients = 0
    // A scrape or a publish waiting for the thread's answer has none coming (closed, or stopped).
    for (const synced of syncs.splice(0)) synced()
    publishes.failAll(closing ? 'the broker closed' : 'the broker thread stopped')
    resolve(exitCode)
  }))

  const [started] = (await Promise.race([once(worker, 'message'), once(worker, 'exit').then(() => [undefined])])) as [FromBroker | undefined]
  if (started?.t !== 'listening') {
    closing = true
    await worker.terminate()
    const failure = started?.t === 'failed' ? started : { message: 'the broker thread exited before it listened', code: undefined, port: undefined }
    throw Object.assign(new Error(failure.message), { code: failure.code, port: failure.port })
  }

  return {
    port: started.port,
    exit,
    get running() {
      return !exited
    },
    get heldReads() {
      return heldReads
    },
    sync: () => exited ? Promise.resolve() : new Promise<void>((resolve) => { syncs.push(resolve); post({ t: 'sync' }) }),
    publish: (topic: string, payload: Uint8Array | string, o: PublishOptions) => exited
      ? Promise.reject(new Error(closing ? 'the broker is closed' : 'the broker thread stopped'))
      : publishes.call((id) => post({ t: 'publish', id, topic, payload, qos: o.qos, retain: o.retain })),
    async close() {
      if (closing) return
      closing = true
      const done = new Promise<void>((resolve) => { closedByBroker = resolve })
      post({ t: 'close' })
      await Promise.race([done, once(worker, 'exit')])
      // Its 'exit' settles what still waits on it.
      await worker.terminate()
    },
  }
}
