/**
 * Fault-path benchmark: how many turns of a busy event loop a fault takes to become a webhook.
 *
 *   npm run bench:turns -- [--busy-ms 5] [--faults 40]
 *
 * Under load the gateway's event loop is busy reading device sockets, and every sequential step
 * of the fault path (a database round trip, a wake-up) waits for the loop to come round again. So
 * the number of steps, not their cost on an idle loop, sets fault→webhook latency on a busy
 * gateway. This runs one in-process gateway on PostgreSQL with one device and one webhook
 * receiver, first on an idle loop (the baseline), then with a socket pair in the same process that
 * keeps every turn busy for --busy-ms in the poll phase, where socket reads run. It prints both
 * latencies and the busy one in turns (latency ÷ busy-ms), and the CPU one fault costs on the idle
 * loop: a fault and the healthy reading after it, through device, gateway and receiver, all in this
 * process. A benchmark, not a test: it asserts nothing.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { createLatencyHistogram } from '../device-sim/latency-histogram.js'
import { expectStatus, registerFleet, startTestGateway } from '../test/support/gateway.js'
import { FAULT_METRIC, FAULT_THRESHOLD } from './fault-clock.js'
import { keepLoopBusy } from '../test/support/busy-loop.js'

const { values: flags } = parseArgs({ options: { 'busy-ms': { type: 'string', default: '5' }, faults: { type: 'string', default: '40' } } })
const BUSY_MS = Number(flags['busy-ms'])
const FAULTS = Number(flags.faults)
// Every pool connection prepares its statements on first use (one round trip more): not timed.
const WARM_UP = 30

const t = await startTestGateway('postgres', { LOG_LEVEL: 'silent' })
let received: (() => void) | undefined
const crm = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(204).end()
    received?.()
  })
})
crm.listen(0, '127.0.0.1')
await once(crm, 'listening')
const crmPort = (crm.address() as { port: number }).port

try {
  const [device] = await registerFleet(t, 1)
  expectStatus(await t.api('POST', '/rules', {
    id: 'bench-overcurrent', name: 'Motor overcurrent', deviceType: 'washer', severity: 'major', mode: 'active',
    when: { kind: 'threshold', metric: FAULT_METRIC, op: '>', value: FAULT_THRESHOLD },
    ticket: { problem: 'motor', type: 'service', title: 'Motor overcurrent' },
  }), 201)
  expectStatus(await t.api('POST', '/webhooks', { url: `http://127.0.0.1:${crmPort}/crm`, events: ['ticket.opened', 'ticket.updated'] }), 201)
  const client = await t.connectDevice(device.id, device.secret)
  const topic = `devices/${device.id}/telemetry`
  let seq = 0
  const reading = (current: number) => JSON.stringify({ ts: Date.now(), seq: seq++, metrics: { [FAULT_METRIC]: current } })

  // A fault, then a healthy reading, so the next fault is a new rising edge (a `ticket.updated`).
  async function faultToWebhook(): Promise<number> {
    const webhook = new Promise<void>((resolve) => { received = resolve })
    const t0 = performance.now()
    await client.publishAsync(topic, reading(FAULT_THRESHOLD + 3), { qos: 1 })
    await webhook
    const ms = performance.now() - t0
    await client.publishAsync(topic, reading(FAULT_THRESHOLD - 8), { qos: 1 })
    await t.gateway.settle()
    return ms
  }

  async function measure() {
    const hist = createLatencyHistogram()
    for (let i = 0; i < FAULTS; i++) hist.record(await faultToWebhook())
    return { p50: hist.percentile(0.5), p90: hist.percentile(0.9) }
  }

  for (let i = 0; i < WARM_UP; i++) await faultToWebhook()
  const cpu = process.cpuUsage()
  const idle = await measure()
  const { user, system } = process.cpuUsage(cpu)
  const stopBusy = await keepLoopBusy(BUSY_MS)
  const busy = await measure()
  await stopBusy()

  console.log(`fault→webhook, ${FAULTS} faults after ${WARM_UP} of warm-up, one gateway on PostgreSQL`)
  console.log(`  idle loop:               p50 ${idle.p50.toFixed(1)} ms, p90 ${idle.p90.toFixed(1)} ms, ${((user + system) / FAULTS / 1000).toFixed(2)} ms of CPU a fault (this process: device, gateway, receiver)`)
  console.log(`  loop busy ${BUSY_MS} ms a turn: p50 ${busy.p50.toFixed(1)} ms, p90 ${busy.p90.toFixed(1)} ms = ${(busy.p50 / BUSY_MS).toFixed(1)} turns at p50 (${(busy.p50 / idle.p50).toFixed(1)}× idle)`)
} finally {
  crm.close()
  await t.close()
}
