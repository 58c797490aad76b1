import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import mqtt from 'mqtt'
import postgres from 'postgres'
import { z } from 'zod'
import { baselineEnvSchema, brokerAddress, parseEnv } from './baseline-env.js'

// Baseline: what a user writes by hand instead of precall — subscribe, INSERT each reading, POST an alert over a
// threshold. No batching, no dedup, no outbox, no retry: its speed and its losses are the point of comparison.
const env = parseEnv(baselineEnvSchema.extend({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  TOPIC: z.string().min(1).default('devices/+/telemetry'),
}), process.env)
const counts = { processed: 0, alerts: 0, alertErrors: 0, badPayloads: 0, insertErrors: 0 }

// onnotice: "relation already exists" would otherwise go to stdout, which carries only the ready line.
const sql = postgres(env.DATABASE_URL, { max: 10, onnotice: () => {} })
await sql`create table if not exists bench_readings (
  id bigserial primary key, device_id text, ts timestamptz, seq bigint, metrics jsonb)`

function parseReading(topic: string, payload: Buffer) {
  const deviceId = /^devices\/([^/]+)\/telemetry$/.exec(topic)?.[1]
  const body = JSON.parse(payload.toString()) as { ts?: unknown; seq?: unknown; metrics?: unknown }
  const ts = new Date(body.ts as number | string)
  if (!deviceId || !Number.isInteger(body.seq) || Number.isNaN(ts.getTime())) return null
  if (typeof body.metrics !== 'object' || body.metrics === null) return null
  return { deviceId, ts, sentTs: body.ts, seq: body.seq as number, metrics: body.metrics as Record<string, number> }
}

function sendAlert(reading: NonNullable<ReturnType<typeof parseReading>>) {
  const value = reading.metrics[env.THRESHOLD_METRIC]
  const body = { deviceId: reading.deviceId, seq: reading.seq, metric: env.THRESHOLD_METRIC, value, ts: reading.sentTs }
  fetch(env.ALERT_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (res) => { await res.arrayBuffer(); if (res.ok) counts.alerts++; else counts.alertErrors++ })
    .catch(() => { counts.alertErrors++ })
}

async function handleMessage(topic: string, payload: Buffer) {
  let reading
  try { reading = parseReading(topic, payload) } catch { reading = null }
  if (!reading) { counts.badPayloads++; return }
  try {
    await sql`insert into bench_readings (device_id, ts, seq, metrics)
      values (${reading.deviceId}, ${reading.ts}, ${reading.seq}, ${sql.json(reading.metrics)})`
  } catch (error) {
    counts.insertErrors++
    process.stderr.write(`insert failed: ${String(error)}\n`)
    return
  }
  counts.processed++
  if (reading.metrics[env.THRESHOLD_METRIC] > env.THRESHOLD) sendAlert(reading)
}

const client = mqtt.connect(brokerAddress(env.MQTT_URL).url, { clientId: `plain-subscriber-${randomUUID()}`, clean: true })
client.on('error', (error) => process.stderr.write(`mqtt: ${error.message}\n`))
// MQTT.js sends the QoS 1 PUBACK once this handler returns, without waiting for the INSERT: a crash loses what is
// in flight. That is how such a subscriber is usually written, so the baseline keeps it.
client.on('message', (topic, payload) => { void handleMessage(topic, payload) })
await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject))
const granted = await client.subscribeAsync(env.TOPIC, { qos: env.QOS })
if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${env.TOPIC} refused`)

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/processed') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts))
  } else {
    res.writeHead(404).end()
  }
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const address = server.address()
process.stdout.write(JSON.stringify({ msg: 'ready', httpPort: typeof address === 'object' && address ? address.port : 0 }) + '\n')

process.once('SIGTERM', async () => {
  server.close()
  await client.endAsync()
  await sql.end({ timeout: 5 })
  process.exit(0)
})
