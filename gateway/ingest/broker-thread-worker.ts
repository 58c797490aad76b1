/**
 * The embedded broker on a thread of its own (see broker-thread.ts, which starts it). It runs
 * startMqttBroker as the gateway's thread would, with stand-ins for what it needs from the gateway:
 * logins ask the gateway, ingest packs readings into batches for it, and counts and logs
 * go to the gateway's Metrics and logger.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createAdmission } from './admission.js'
import type { Done } from './group-commit.js'
import { startMqttBroker, type BrokerLog, type BrokerMetrics } from './mqtt-broker.js'
import type { MqttLogin } from './mqtt-logins.js'
import { createPendingCalls, ITEM_HEADER_BYTES, type BrokerThreadSettings, type FromBroker, type ToBroker } from './broker-thread-protocol.js'

const gateway = parentPort!
const settings = (workerData as { settings: BrokerThreadSettings }).settings
const post = (message: FromBroker, transfer?: ArrayBuffer[]) => gateway.postMessage(message, transfer)

// Counted here, sent with the next batch or within a second.
let heldSinceSent = 0
const metrics: BrokerMetrics = {
  connectionsRefused: { inc: ({ reason }) => post({ t: 'refused', reason }) },
  mqttClients: { inc: () => post({ t: 'clients', by: 1 }), dec: () => post({ t: 'clients', by: -1 }) },
  ingestHeld: { inc: () => { heldSinceSent++ } },
  countHeldReads: () => {},
}
const logAt = (level: 'debug' | 'warn' | 'error') => (fields: Record<string, unknown>, message: string) => {
  if (settings.logLevels.includes(level)) post({ t: 'log', level, fields, message })
}
const log: BrokerLog = { debug: logAt('debug'), warn: logAt('warn'), error: logAt('error') }

// Logins the gateway has yet to answer.
const authentications = createPendingCalls<MqttLogin | null>()
const logins = {
  authenticate: async (username: string, password: string): Promise<MqttLogin | undefined> =>
    (await authentications.call((id) => post({ t: 'auth', id, username, password }))) ?? undefined,
}

/**
 * Readings on their way to the gateway: each an id, its topic's code and its payload, packed into
 * a buffer kept for packing, and handed over as a copy of what it holds (transferred, not cloned
 * again): a batch is mostly a few kilobytes, less than a fresh buffer a batch would be. A topic (a
 * device and channel) crosses once as text and then as its code; the codes start again past
 * MAX_TOPICS.
 */
const BATCH_BYTES = 64 * 1024
const MAX_TOPICS = 65_536
let nextSeq = 1
const waiting = new Map<number, Done<unknown>>()
const topicCodes = new Map<string, number>()
let newTopics: [number, string, string, string][] = []
let resetTopics = false
let buffer!: ArrayBuffer
let view!: DataView
let bytes!: Uint8Array
packInto(BATCH_BYTES)
let used = 0
let items = 0
let flushQueued = false
let heldReadsSent = 0

function flush() {
  flushQueued = false
  if (items === 0 && heldSinceSent === 0 && admission.held === heldReadsSent) return
  heldReadsSent = admission.held
  const packed = buffer.slice(0, used)
  post({ t: 'readings', buffer: packed, items, topics: newTopics, resetTopics, held: heldSinceSent, heldReads: heldReadsSent }, [packed])
  heldSinceSent = 0
  newTopics = []
  resetTopics = false
  // Grown for one large payload: back to the usual size.
  if (buffer.byteLength > BATCH_BYTES) packInto(BATCH_BYTES)
  used = 0
  items = 0
}

/** Packs from now on into a buffer of `size` bytes. */
function packInto(size: number) {
  buffer = new ArrayBuffer(size)
  view = new DataView(buffer)
  bytes = new Uint8Array(buffer)
}

function codeOf(topic: string, deviceId: string, channel: string): number {
  let code = topicCodes.get(topic)
  if (code !== undefined) return code
  if (topicCodes.size >= MAX_TOPICS) {
    flush()
    topicCodes.clear()
    resetTopics = true
  }
  code = topicCodes.size
  topicCodes.set(topic, code)
  newTopics.push([code, deviceId, channel, topic])
  return code
}

const admission = createAdmission({ limit: settings.maxPending, readBudgetMs: settings.readBudgetMs, unanswered: () => waiting.size, metrics })

const ingest = {
  admitter: admission.admitter,
  ingest(deviceId: string, channel: string, topic: string, payload: Buffer, done: Done<unknown>) {
    const code = codeOf(topic, deviceId, channel)
    const size = ITEM_HEADER_BYTES + payload.length
    if (used + size > buffer.byteLength) {
      flush()
      if (size > buffer.byteLength) packInto(size)
    }
    const seq = nextSeq++
    waiting.set(seq, done)
    view.setUint32(used, seq)
    view.setUint32(used + 4, code)
    view.setUint32(used + 8, payload.length)
    bytes.set(payload, used + ITEM_HEADER_BYTES)
    used += size
    items++
    queueFlush()
  },
}

function queueFlush() {
  if (flushQueued) return
  flushQueued = true
  setImmediate(flush)
}

function answer(seq: number, err: Error | null) {
  const done = waiting.get(seq)
  if (!done) return
  waiting.delete(seq)
  done(err)
}

const broker = await startMqttBroker({ host: settings.host, port: settings.port, maxPacketBytes: settings.maxPacketBytes, logins, ingest, metrics, log })
  .catch((err: NodeJS.ErrnoException & { port?: number }) => {
    post({ t: 'failed', message: err.message, code: err.code, port: err.port })
    return undefined
  })

if (broker) {
  setInterval(flush, 1000).unref()

  gateway.on('message', (message: ToBroker) => {
    switch (message.t) {
      case 'answers': {
        const seqs = new Uint32Array(message.buffer, 0, message.count)
        for (let i = 0; i < seqs.length; i++) answer(seqs[i]!, null)
        for (const [seq, reason] of message.failed) answer(seq, new Error(reason))
        admission.release()
        // The gauge of held connections follows them down.
        if (admission.held !== heldReadsSent) queueFlush()
        break
      }
      case 'auth':
        authentications.settle(message.id, message.error, message.login)
        break
      case 'publish':
        broker.publish(message.topic, message.payload, message).then(
          () => post({ t: 'published', id: message.id }),
          (err: Error) => post({ t: 'published', id: message.id, error: err.message }),
        )
        break
      case 'sync':
        flush()
        post({ t: 'synced' })
        break
      case 'close':
        broker.close().then(() => post({ t: 'closed' }))
        break
    }
  })
  post({ t: 'listening', port: broker.port })
}
