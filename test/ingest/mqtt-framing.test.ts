import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { sql } from 'drizzle-orm'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { registerFleet, startTestGateway, type TestGateway } from '../support/gateway.js'

/**
 * The embedded broker reads MQTT however TCP cuts it: a packet in pieces, down to a byte at a time,
 * and several packets in one segment. Its parser is patched (patches/mqtt-packet+9.0.2.patch: no
 * Packet is made ahead of the next one), so these go through that patch's path byte by byte.
 */
describe('the embedded broker reads packets however TCP splits or joins them', () => {
  let t: TestGateway
  let device: { id: string; secret: string }
  const now = Date.now()

  beforeAll(async () => {
    t = await startTestGateway('postgres')
    ;[device] = await registerFleet(t, 1, 'framing')
  })
  afterAll(async () => t?.close())

  /** A raw connection that answers the message ids of the PUBACKs it receives. */
  async function rawDevice() {
    const socket: Socket = connect(t.mqttPort, '127.0.0.1')
    await once(socket, 'connect')
    const parser = mqttPacket.parser()
    const acked: number[] = []
    let connack: mqttPacket.IConnackPacket | undefined
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') connack = p as mqttPacket.IConnackPacket
      if (p.cmd === 'puback') acked.push(p.messageId!)
    })
    socket.on('data', (chunk) => parser.parse(chunk))
    return { socket, acked, connack: () => connack }
  }

  const bytes = (packet: mqttPacket.Packet) => mqttPacket.generate(packet)
  const publish = (messageId: number, drain: number) => bytes({
    cmd: 'publish', qos: 1, dup: false, retain: false, messageId, topic: `devices/${device.id}/telemetry`,
    payload: Buffer.from(JSON.stringify({ ts: now + messageId, seq: messageId, metrics: { drain_time_s: drain } })),
  })

  it('acknowledges and stores every message, sent a byte at a time, then all in one write', async () => {
    const d = await rawDevice()
    const hello = bytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'framing-raw', username: device.id, password: Buffer.from(device.secret) })
    // CONNECT and two PUBLISHes a byte at a time, each byte its own write and segment.
    const trickled = Buffer.concat([hello, publish(1, 41), publish(2, 42)])
    for (const byte of trickled) {
      d.socket.write(Buffer.from([byte]))
      await new Promise((r) => setImmediate(r))
    }
    await vi.waitFor(() => expect(d.acked).toHaveLength(2))
    expect(d.connack()?.returnCode).toBe(0)

    // Five PUBLISHes in one write, the last cut in two across writes.
    const joined = Buffer.concat([3, 4, 5, 6, 7].map((id) => publish(id, 40 + id)))
    d.socket.write(joined.subarray(0, joined.length - 7))
    await new Promise((r) => setTimeout(r, 50))
    d.socket.write(joined.subarray(joined.length - 7))
    await vi.waitFor(() => expect(d.acked).toHaveLength(7))
    expect(d.acked).toEqual([1, 2, 3, 4, 5, 6, 7])

    await t.gateway.settle()
    const stored = await t.gateway.database.query<{ seq: string; drain: number }>(
      sql`select seq::text, (metrics->>'drain_time_s')::int as drain from readings where device_id = ${device.id} order by seq`)
    expect(stored).toEqual([1, 2, 3, 4, 5, 6, 7].map((id) => ({ seq: String(id), drain: 40 + id })))
    d.socket.destroy()
  })
})
