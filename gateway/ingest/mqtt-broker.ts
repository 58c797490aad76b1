import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes'
import { isNotificationsFilter, isOwnCommandsFilter, parseDeviceTopic } from '../mqtt-topics.js'
import type { AdmissionMetrics, HeldConnection, ReadNext } from './admission.js'
import type { Ingest } from './ingest.js'
import type { MqttLogin } from './mqtt-logins.js'

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const BAD_CREDENTIALS = 4
const IDENTIFIER_REJECTED = 2

/** What the broker counts: a gateway's Metrics, or a broker thread's stand-in that forwards them (see broker-thread.ts). */
export type BrokerMetrics = AdmissionMetrics & {
  connectionsRefused: { inc(labels: { reason: string }): void }
  mqttClients: { inc(): void; dec(): void }
}
type LogFn = (fields: Record<string, unknown>, message: string) => void
/** What the broker logs through: a pino logger, or a broker thread's stand-in that forwards to one. */
export type BrokerLog = { debug: LogFn; warn: LogFn; error: LogFn }

export type BrokerOptions = {
  host: string
  port: number
  maxPacketBytes: number
  /** Answers a client's username and password with who logged in (see mqtt-logins.ts), or undefined. */
  logins: { authenticate(username: string, password: string): Promise<MqttLogin | undefined> }
  ingest: Pick<Ingest, 'ingest' | 'admitter'>
  metrics: BrokerMetrics
  log: BrokerLog
}

/** How the gateway sends a device a message (commands, notices) through whichever broker. */
export type PublishOptions = { qos: 0 | 1 | 2; retain: boolean }

/**
 * The embedded broker. Authenticates devices against their stored secret hash, confines each to
 * its own topics, and stores every publish inside `authorizePublish`: aedes sends PUBACK only
 * after that callback, so an acknowledged reading is already committed.
 */
export async function startMqttBroker(opts: BrokerOptions) {
  const { logins, ingest, metrics, log } = opts
  // Per connection: its device, and the last topic it was allowed to publish on with that topic's
  // channel, so the next publish on the same topic (nearly all of them) skips parsing it again.
  const sessions = new WeakMap<Client, { deviceId: string; topic: string; channel: string }>()
  const deviceOf = (client: Client) => sessions.get(client)?.deviceId
  // The manufacturer's app back-ends: they receive customers' notifications and publish nothing.
  const apps = new WeakSet<Client>()
  const anonymous = new WeakSet<Client>()

  const refuse = (reason: string, fields: Record<string, unknown>) => {
    metrics.connectionsRefused.inc({ reason })
    log.warn({ reason, ...fields }, 'mqtt refused')
  }

  const broker = await Aedes.createBroker({
    // mqemitter slows sharply past ~16k queued messages at the default of 100.
    concurrency: 1000,
    drainTimeout: 10_000,
    maxClientsIdLength: 128,
    maxTopicLevels: 8,
    heartbeatInterval: 60_000,

    // Refused in authenticate, which answers with a CONNACK code; preConnect can only hang up.
    preConnect(client, packet, done) {
      if (!packet.clientId) anonymous.add(client)
      done(null, true)
    },

    authenticate(client, username, password, done) {
      const fail = (reason: string) => {
        refuse(reason, { clientId: client.id, username })
        const err = Object.assign(new Error('bad username or password'), { returnCode: BAD_CREDENTIALS }) as AuthenticateError
        done(err, false)
      }
      if (anonymous.has(client)) {
        refuse('empty_client_id', { username })
        return done(Object.assign(new Error('empty client id refused'), { returnCode: IDENTIFIER_REJECTED }) as AuthenticateError, false)
      }
      if (!username || !password) return fail('missing_credentials')
      logins.authenticate(username, password.toString('utf8')).then(
        (login) => {
          if (!login) return fail('bad_credentials')
          if (login.kind === 'app') apps.add(client)
          else sessions.set(client, { deviceId: login.id, topic: '', channel: '' })
          done(null, true)
        },
        (err) => {
          log.error({ err }, 'login lookup failed (device or app token)')
          fail('auth_unavailable')
        },
      )
    },

    authorizePublish(client, packet, done) {
      const topic = packet.topic
      const session = client ? sessions.get(client) : undefined
      let owner: string | undefined, channel: string
      if (session && topic === session.topic) {
        owner = session.deviceId
        channel = session.channel
      } else {
        const target = parseDeviceTopic(topic)
        // A will published after its client left: trust only the status channel it was set on.
        owner = client ? session?.deviceId : target?.channel === 'status' ? target.deviceId : undefined
        if (topic.startsWith('$SYS') || !owner || !target || target.deviceId !== owner) {
          refuse('acl_publish', { clientId: client?.id, device: owner, topic })
          return done(new Error('publish not allowed on this topic'))
        }
        channel = target.channel
        if (session) {
          session.topic = topic
          session.channel = channel
        }
      }
      // A refused message is still acknowledged: resending the same bad bytes can't succeed.
      ingest.ingest(owner, channel, topic, packet.payload as Buffer, (err) => {
        if (err === null) return done(null)
        refuse('store_failed', { device: owner, err: String(err) })
        done(err as Error)
      })
    },

    authorizeSubscribe(client, sub, done) {
      const device = deviceOf(client)
      const app = apps.has(client)
      const allowed = app
        ? isNotificationsFilter(sub.topic)
        : device !== undefined && isOwnCommandsFilter(device, sub.topic)
      if (!allowed) {
        refuse('acl_subscribe', { device, app: app || undefined, topic: sub.topic })
        return done(null, null)
      }
      done(null, sub)
    },
  })

  keepDevicePublishesLocal(broker)
  broker.on('client', () => metrics.mqttClients.inc())
  broker.on('clientDisconnect', () => metrics.mqttClients.dec())
  broker.on('clientError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'mqtt client error'))
  broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'))

  const server: Server = createServer((socket) => {
    socket.setNoDelay(true)
    const client = broker.handle(socket)
    readWhenAdmitted(client, ingest)
    limitPacketSize(client, opts.maxPacketBytes, (size) => refuse('oversized_packet', { clientId: client.id, device: deviceOf(client), size }))
  })
  server.listen(opts.port, opts.host)
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : opts.port

  let closed = false
  return {
    broker,
    port,
    /** Until closed: on the event loop's thread, the broker stops only with the gateway. */
    get running() {
      return !closed
    },
    publish: (topic: string, payload: Uint8Array | string, o: PublishOptions) => new Promise<void>((resolve, reject) => {
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: o.qos, retain: o.retain, dup: false }, (err) => (err ? reject(err) : resolve()))
    }),
    async close() {
      closed = true
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * What a device publishes has been stored by ingest in `authorizePublish`, and is for no client:
 * clients may subscribe only to `devices/<own id>/commands/#`, and the one topic under it that the
 * ACL lets a device publish on, `devices/<id>/commands` itself, ingest refuses (aedes echoed it to
 * the device's own subscription). aedes would still route every publish after its PUBACK — copy
 * it, look up offline subscribers, retain it, run it through its emitter — for nobody, and keep a
 * retained copy per device in memory. Publishes without a client (the gateway's own commands and
 * notices) are routed as before.
 */
function keepDevicePublishesLocal(broker: Aedes) {
  type Publish = (packet: PublishPacket, client?: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void
  // aedes calls publish(packet, client, done) itself; its type only has the public (packet, done).
  const route = broker.publish.bind(broker) as Publish
  const publish: Publish = (packet, client, done) => {
    if (client && typeof client === 'object') done?.()
    else route(packet, client, done)
  }
  broker.publish = publish as Aedes['publish']
}

/**
 * aedes reads a connection again (`nextBatch`) when it has handled the packets of the last read and
 * when more bytes arrive; both go through ingest's admission instead, which holds them while the
 * gateway has as many unanswered readings as it may (see createAdmission). A held connection's
 * bytes wait unparsed in its buffers, and TCP holds the device back.
 */
function readWhenAdmitted(client: Client, ingest: Pick<Ingest, 'admitter'>) {
  const internals = client as unknown as { _nextBatch: ReadNext; conn: NodeJS.EventEmitter }
  const readNext = internals._nextBatch
  // aedes's internals, not its API: fail loudly if an upgrade moved them rather than let reads past.
  if (typeof readNext !== 'function' || !internals.conn.listeners('readable').includes(readNext)) {
    throw new Error("aedes no longer reads a connection through client._nextBatch on 'readable': see readWhenAdmitted")
  }
  const admitted = ingest.admitter(readNext, internals.conn as unknown as HeldConnection)
  internals.conn.removeListener('readable', readNext)
  internals.conn.on('readable', admitted)
  internals._nextBatch = admitted
}

/**
 * aedes has no packet size limit, so a client could make it buffer up to 256 MB for one packet.
 * The length is known as soon as the fixed header is parsed: refuse there, before the body.
 */
function limitPacketSize(client: Client, maxBytes: number, onRefuse: (size: number) => void) {
  const parser = (client as unknown as { _parser: Record<string, any> })._parser
  const parseLength = parser._parseLength
  parser._parseLength = function (this: Record<string, any>) {
    const complete = parseLength.call(this)
    if (complete && this.packet.length > maxBytes) {
      onRefuse(this.packet.length)
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${maxBytes}`))
      return false
    }
    return complete
  }
}

/** The embedded broker as the gateway drives it, on the event loop's thread or on its own (broker-thread.ts). */
export type MqttBroker = Pick<Awaited<ReturnType<typeof startMqttBroker>>, 'port' | 'publish' | 'close' | 'running'>
