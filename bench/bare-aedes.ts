import { createServer } from 'node:net'
import { Aedes } from 'aedes'

// The ceiling: aedes with the gateway's broker options and an in-process subscriber that only counts.
const broker = await Aedes.createBroker({ concurrency: 1000, drainTimeout: 10_000, maxClientsIdLength: 128 })
let count = 0
broker.subscribe('devices/+/telemetry', (_packet, done) => { count++; done() }, () => {})
const server = createServer((socket) => { socket.setNoDelay(true); broker.handle(socket) })
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(JSON.stringify({ msg: 'ready', mqttPort: typeof address === 'object' && address ? address.port : 0 }) + '\n')
})
process.on('SIGTERM', () => { process.stderr.write(`counted ${count}\n`); process.exit(0) })
