import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type RequestListener, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt from 'mqtt'
import { baselineEnvSchema, brokerAddress, parseEnv } from './baseline-env.js'

// Baseline: the flow a Node-RED user wires from stock nodes — mqtt in → function (threshold) → http request —
// embedded so the bench can start, count and stop it like the other systems. It stores nothing.
const env = parseEnv(baselineEnvSchema, process.env)
const broker = brokerAddress(env.MQTT_URL)
const TOPIC = 'devices/+/telemetry'
// Readiness is proven end to end: a probe published on a matching topic has come out of the function node.
const PROBE_TOPIC = 'devices/__ready__/telemetry'
const READY_TIMEOUT_MS = 60_000

// node-red ships no types; this is the part of its embedding API (node-red/lib/red.js) the script calls.
type LogMessage = { level: number; msg: unknown; type?: string; id?: string; name?: string }
const RED = createRequire(import.meta.url)('node-red') as {
  init(server: Server, settings: object): void
  start(): Promise<void>
  stop(): Promise<void>
  httpNode: RequestListener
}

const threshold = `
if (msg.topic === ${JSON.stringify(PROBE_TOPIC)}) { global.set('probes', (global.get('probes') || 0) + 1); return null }
global.set('processed', (global.get('processed') || 0) + 1)
const metric = env.get('THRESHOLD_METRIC')
const value = msg.payload.metrics && msg.payload.metrics[metric]
if (!(value > env.get('THRESHOLD'))) return null
msg.payload = { deviceId: msg.topic.split('/')[1], seq: msg.payload.seq, metric, value, ts: msg.payload.ts }
return msg`

const countReply = `msg.payload = { processed: global.get('processed') || 0, probes: global.get('probes') || 0 }
return msg`

const flows = [
  { id: 'bench', type: 'tab', label: 'bench', env: [
    { name: 'THRESHOLD_METRIC', value: env.THRESHOLD_METRIC, type: 'str' },
    { name: 'THRESHOLD', value: String(env.THRESHOLD), type: 'num' },
  ] },
  // Node-RED takes any string property equal to a config node's id as a reference to it, so no id doubles as a name.
  { id: 'broker', type: 'mqtt-broker', name: 'mosquitto', broker: broker.host, port: String(broker.port), clientid: '',
    autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true },
  { id: 'telemetry', type: 'mqtt in', z: 'bench', topic: TOPIC, qos: String(env.QOS), datatype: 'json', broker: 'broker',
    nl: false, rap: true, rh: 0, inputs: 0, wires: [['threshold']] },
  { id: 'threshold', type: 'function', z: 'bench', func: threshold, outputs: 1, wires: [['alert']] },
  // persist: false is the node's default: a new connection per alert, as a user who leaves it alone gets.
  { id: 'alert', type: 'http request', z: 'bench', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: env.ALERT_URL,
    persist: false, senderr: false, headers: [], wires: [[]] },
  { id: 'count-in', type: 'http in', z: 'bench', url: '/bench/processed', method: 'get', wires: [['count-reply']] },
  { id: 'count-reply', type: 'function', z: 'bench', func: countReply, outputs: 1, wires: [['count-out']] },
  { id: 'count-out', type: 'http response', z: 'bench', statusCode: '', headers: {}, wires: [] },
]

const userDir = mkdtempSync(path.join(tmpdir(), 'bench-node-red-'))
process.once('exit', () => rmSync(userDir, { recursive: true, force: true }))
writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows))

const settings = {
  userDir,
  flowFile: 'flows.json',
  credentialSecret: false, // the flow has no credentials; this keeps Node-RED from generating and announcing a key
  httpAdminRoot: false,
  httpNodeRoot: '/',
  disableEditor: true,
  editorTheme: { projects: { enabled: false } },
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  // Node-RED's own console logger writes to stdout, which carries only the bench's JSON lines.
  logging: { console: { level: 'error', metrics: false, audit: false, handler: () => (m: LogMessage) => {
    const text = m.msg instanceof Error ? m.msg.stack : typeof m.msg === 'string' ? m.msg : JSON.stringify(m.msg)
    process.stderr.write(`node-red ${m.type ? `[${m.type}:${m.name || m.id}] ` : ''}${text}\n`)
  } } },
}

const server = createServer((req, res) => RED.httpNode(req, res))
RED.init(server, settings)
let started: Promise<void> | undefined
// Installed before start so a bench that gives up during startup still gets the userDir removed (by the exit hook).
process.once('SIGTERM', async () => {
  if (started) await started.then(() => RED.stop(), () => {})
  server.close()
  process.exit(0)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const address = server.address()
const httpPort = typeof address === 'object' && address ? address.port : 0
started = RED.start()
await started

async function probes() {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/bench/processed`)
    return res.ok ? ((await res.json()) as { probes: number }).probes : 0
  } catch {
    return 0
  }
}

const prober = await mqtt.connectAsync(broker.url, { clientId: `node-red-probe-${process.pid}` })
const deadline = Date.now() + READY_TIMEOUT_MS
while (await probes() === 0) {
  if (Date.now() > deadline) throw new Error(`Node-RED flow saw no probe within ${READY_TIMEOUT_MS} ms`)
  await prober.publishAsync(PROBE_TOPIC, '{}', { qos: 0 })
  await sleep(100)
}
await prober.endAsync()
process.stdout.write(JSON.stringify({ msg: 'ready', httpPort }) + '\n')

