import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { Aedes } from 'aedes'

// The ceiling: aedes with the gateway's broker options and an in-process subscriber that only
// counts, so every cost above this is precall's own. Run as a child process by the bench.
const broker = await Aedes.createBroker({ concurrency: 1000, drainTimeout: 10_000, maxClientsIdLength: 128 })
let processed = 0
broker.subscribe('devices/+/telemetry', (_packet, done) => { processed++; done() }, () => {})
const mqtt = createServer((socket) => { socket.setNoDelay(true); broker.handle(socket) }).listen(0, '127.0.0.1')
const http = createHttpServer((_req, res) => res.end(JSON.stringify({ processed }))).listen(0, '127.0.0.1')
await Promise.all([once(mqtt, 'listening'), once(http, 'listening')])
const portOf = (s: { address(): unknown }) => (s.address() as { port: number }).port
process.stdout.write(`${JSON.stringify({ msg: 'ready', mqttPort: portOf(mqtt), httpPort: portOf(http) })}\n`)
process.on('SIGTERM', () => process.exit(0))
