import { connect as tcpConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'

export type WireClient = {
  /** QoS 1: `done` runs on PUBACK. QoS 0: once the bytes are handed to the socket. */
  publish(topic: string, payload: string, qos: 0 | 1, done: (err?: Error) => void): void
  end(): Promise<void>
}

const MAX_PACKET_ID = 65_535

/**
 * One device's MQTT 3.1.1 connection, cut down to what a load generator does: connect with
 * credentials, publish at QoS 0 or 1, count PUBACKs. mqtt-packet encodes CONNECT and parses what
 * the broker sends; PUBLISH is framed here. MQTT.js spent ~45 µs of CPU per publish on this
 * machine (its store, keep-alive rescheduling, debug calls, a writev per packet), as much as the
 * gateway under test; the generator should not be what limits a run. No keep-alive (0): the
 * connection lives for one benchmark.
 */
export function connectWire(url: string, opts: { clientId: string; username: string; password?: string; timeoutMs: number }): Promise<WireClient> {
  const { hostname, port } = new URL(url)
  const socket: Socket = tcpConnect({ host: hostname, port: Number(port || 1883) })
  socket.setNoDelay(true)
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const pending = new Map<number, (err?: Error) => void>()
  let nextId = 1
  let closed: Error | undefined

  const fail = (err: Error) => {
    closed ??= err
    for (const done of pending.values()) done(closed)
    pending.clear()
  }
  socket.on('data', (chunk) => parser.parse(chunk))
  socket.on('error', fail)
  socket.on('close', () => fail(new Error('connection closed')))

  const client: WireClient = {
    publish(topic, payload, qos, done) {
      if (closed) return done(closed)
      let id = 0
      if (qos === 1) {
        while (pending.has(nextId)) nextId = nextId === MAX_PACKET_ID ? 1 : nextId + 1
        id = nextId
        nextId = nextId === MAX_PACKET_ID ? 1 : nextId + 1
        pending.set(id, done)
      }
      const packet = framePublish(topic, payload, qos, id)
      if (qos === 1) socket.write(packet)
      else socket.write(packet, (err) => done(err ?? undefined))
    },
    async end() {
      if (socket.destroyed) return
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve())
        socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
        setTimeout(() => socket.destroy(), 1000).unref()
      })
    },
  }

  return new Promise<WireClient>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no CONNACK within ${opts.timeoutMs} ms`)) }, opts.timeoutMs)
    const refuse = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err) }
    const closedEarly = () => refuse(closed ?? new Error('connection closed before CONNACK'))
    socket.once('error', refuse)
    socket.once('close', closedEarly)
    parser.on('error', (err) => { socket.destroy(err) })
    parser.on('packet', (packet) => {
      if (packet.cmd === 'puback') {
        const done = pending.get(packet.messageId!)
        pending.delete(packet.messageId!)
        done?.()
      } else if (packet.cmd === 'connack') {
        clearTimeout(timer)
        socket.removeListener('error', refuse)
        socket.removeListener('close', closedEarly)
        if (packet.returnCode === 0) resolve(client)
        else refuse(new Error(`connection refused (CONNACK return code ${packet.returnCode})`))
      }
    })
    socket.once('connect', () => socket.write(mqttPacket.generate({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: opts.clientId,
      username: opts.username, ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
    })))
  })
}

/** PUBLISH (MQTT 3.1.1 §3.3): fixed header, remaining length, topic, packet id at QoS 1, payload. */
function framePublish(topic: string, payload: string, qos: 0 | 1, id: number): Buffer {
  const topicBytes = Buffer.byteLength(topic)
  const payloadBytes = Buffer.byteLength(payload)
  const remaining = 2 + topicBytes + (qos === 1 ? 2 : 0) + payloadBytes
  let lengthBytes = 1
  for (let n = remaining; n > 127; n = Math.floor(n / 128)) lengthBytes++
  const buf = Buffer.allocUnsafe(1 + lengthBytes + remaining)
  buf[0] = 0x30 | (qos << 1)
  let at = 1
  let n = remaining
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    buf[at++] = byte
  } while (n > 0)
  buf.writeUInt16BE(topicBytes, at)
  at += 2
  at += buf.write(topic, at)
  if (qos === 1) {
    buf.writeUInt16BE(id, at)
    at += 2
  }
  buf.write(payload, at)
  return buf
}
