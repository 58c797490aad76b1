import { Worker } from 'node:worker_threads'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import type { Logger } from 'pino'
import type { DeviceDirectory } from '../fleet/device-directory.js'
import type { Metrics } from '../metrics.js'
import type { Ingest } from './ingest.js'
import type { MqttBroker, PublishOptions } from './mqtt-broker.js'

/** What the broker's thread is started with. */
export type BrokerThreadSettings = {
  host: string
  port: number
  maxPacketBytes: number
  maxPending: number
  readBudgetMs: number
  /** The levels of debug, warn and error that the gateway's logger writes. */
  logLevels: ('debug' | 'warn' | 'error')[]
}

/** A packed reading: its id, its topic's code and its payload's length (each a big-endian uint32), then the payload. */
export const ITEM_HEADER_BYTES = 12

/** From the broker's thread to the gateway's. */
export type FromBroker =
  | { t: 'listening'; port: number }
  | { t: 'failed'; message: string; code?: string; port?: number }
  | { t: 'readings'; buffer: ArrayBuffer; items: number; topics: [code: number, deviceId: string, channel: string, topic: string][]; resetTopics: boolean; held: number; heldReads: number }
  | { t: 'auth'; id: number; username: string; password: string }
  | { t: 'published'; id: number; error?: string }
  | { t: 'refused'; reason: string }
  | { t: 'clients'; by: number }
  | { t: 'log'; level: 'debug' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }
  | { t: 'synced' }
  | { t: 'closed' }

/** From the gateway's thread to the broker's. */
export type ToBroker =
  | { t: 'answers'; buffer: ArrayBuffer; count: number; failed: [seq: number, reason: string][] }
  | { t: 'auth'; id: number; deviceId: string | null; error?: string }
  | ({ t: 'publish'; id: number; topic: string; payload: Uint8Array | string } & PublishOptions)
  | { t: 'sync' }
  | { t: 'close' }

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

/**
 * The embedded broker on a second thread (MQTT_BROKER_THREAD=true): parsing, acknowledgements and
 * the sockets' system calls, ~30 µs a reading of bare aedes's thread, leave the event loop's thread
 * to storing, rules and tickets. The broker thread runs startMqttBroker with admission, ACLs and the
 * packet limit as on one thread; what it cannot do itself crosses as messages:
 * - readings go to `ingest` in batches (a transferred buffer a turn of the broker's loop), and the
 *   ids of those answered come back in batches (one a run of answers), so a device is still
 *   acknowledged only once its reading is committed;
 * - a device's credentials are checked against `directory` here;
 * - the gateway's publishes (commands, notices) go to the broker;
 * - its counts and log lines come to `metrics` and `log`.
 * The broker thread's module is TypeScript: a small JavaScript entry registers tsx's loader in the
 * thread first, since on Node 20 it is not inherited.
 */
export async function startBrokerThread(opts: {
  host: string
  port: number
  maxPacketBytes: number
  maxPending: number
  readBudgetMs: number
  directory: Pick<DeviceDirectory, 'authenticate'>
  ingest: Pick<Ingest, 'ingest'>
  metrics: Metrics
  log: Logger
}): Promise<MqttBroker> {
  const { directory, ingest, metrics, log } = opts
  const settings: BrokerThreadSettings = {
    host: opts.host, port: opts.port, maxPacketBytes: opts.maxPacketBytes, maxPending: opts.maxPending, readBudgetMs: opts.readBudgetMs,
    logLevels: (['debug', 'warn', 'error'] as const).filter((level) => log.isLevelEnabled(level)),
  }
  const worker = await withYoungGeneration(BROKER_SEMI_SPACE_MB, () => new Worker(new URL('./broker-thread-entry.mjs', import.meta.url), {
    workerData: { module: new URL('./broker-thread-worker.ts', import.meta.url).href, settings },
  }))
  let closed = false
  let running = true
  let heldReads = 0
  metrics.countHeldReads(() => heldReads)
  // A scrape waits for the broker thread to answer: it sends what it had counted (refusals,
  // connections, held reads) first, so /metrics is as current as the devices' view of the broker.
  const syncs: (() => void)[] = []
  metrics.beforeScrape(async () => {
    if (running && !closed) await new Promise<void>((resolve) => { syncs.push(resolve); post({ t: 'sync' }) })
  })
  const post = (message: ToBroker, transfer?: ArrayBuffer[]) => {
    if (!closed) worker.postMessage(message, transfer)
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

  let nextPublish = 1
  const publishes = new Map<number, { resolve(): void; reject(err: Error): void }>()
  let closedByBroker: (() => void) | undefined

  worker.on('message', (message: FromBroker) => {
    switch (message.t) {
      case 'readings':
        return readings(message)
      case 'auth':
        directory.authenticate(message.username, message.password).then(
          (device) => post({ t: 'auth', id: message.id, deviceId: device?.id ?? null }),
          (err: unknown) => post({ t: 'auth', id: message.id, deviceId: null, error: String(err) }),
        )
        return
      case 'published': {
        const call = publishes.get(message.id)
        publishes.delete(message.id)
        if (message.error !== undefined) call?.reject(new Error(message.error))
        else call?.resolve()
        return
      }
      case 'refused':
        return metrics.connectionsRefused.inc({ reason: message.reason })
      case 'clients':
        return metrics.mqttClients.inc(message.by)
      case 'log':
        return log[message.level](message.fields, message.message)
      case 'synced':
        return syncs.shift()?.()
      case 'closed':
        return closedByBroker?.()
    }
  })
  worker.on('error', (err) => log.fatal({ err }, 'the broker thread failed: devices cannot connect or publish'))
  worker.on('exit', () => {
    running = false
    // A scrape or a publish waiting for the thread's answer has none coming (closed, or stopped).
    for (const synced of syncs.splice(0)) synced()
    for (const call of publishes.values()) call.reject(new Error(closed ? 'the broker closed' : 'the broker thread stopped'))
    publishes.clear()
  })

  const [started] = (await Promise.race([once(worker, 'message'), once(worker, 'exit').then(() => [undefined])])) as [FromBroker | undefined]
  if (started?.t !== 'listening') {
    await worker.terminate()
    const failure = started?.t === 'failed' ? started : { message: 'the broker thread exited before it listened', code: undefined, port: undefined }
    throw Object.assign(new Error(failure.message), { code: failure.code, port: failure.port })
  }

  return {
    port: started.port,
    /** False once the thread has exited, closed or not: devices can no longer connect (readyz fails). */
    get running() {
      return running
    },
    publish: (topic, payload, o) => new Promise<void>((resolve, reject) => {
      if (!running) return reject(new Error(closed ? 'the broker is closed' : 'the broker thread stopped'))
      const id = nextPublish++
      publishes.set(id, { resolve, reject })
      post({ t: 'publish', id, topic, payload, qos: o.qos, retain: o.retain })
    }),
    async close() {
      if (closed) return
      const done = new Promise<void>((resolve) => { closedByBroker = resolve })
      post({ t: 'close' })
      await Promise.race([done, once(worker, 'exit')])
      closed = true
      // Its 'exit' settles what still waits on it.
      await worker.terminate()
    },
  }
}
