import { parseArgs } from 'node:util'
import { createGatewayApi } from './gateway-api.js'
import { runLoad } from './load-generator.js'
import { mapBounded } from './map-bounded.js'
import { deviceTypeById, readCatalogue } from './read-catalogue.js'

export const LOAD_USAGE = `usage: npm run sim -- load [--devices 1000] [--rate 5000 | --window 8] [--seconds 10] [--qos 0|1]
                          [--url URL] [--mqtt URL] [--token T] [--id-prefix load-]
Registers (or reuses) washer devices, then offers telemetry at --rate msg/s in total (open loop) or
keeps --window publishes in flight per device (closed loop); prints the result as JSON on stdout.`

/** `npm run sim -- load`: the load generator by hand, with the figures a benchmark would record. */
export async function runLoadCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      devices: { type: 'string', default: '1000' }, rate: { type: 'string' }, window: { type: 'string' }, seconds: { type: 'string', default: '10' },
      qos: { type: 'string', default: '1' }, url: { type: 'string' }, mqtt: { type: 'string' }, token: { type: 'string' },
      'id-prefix': { type: 'string', default: 'load-' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${LOAD_USAGE}\n`)
    return 0
  }
  const token = values.token ?? env.PRECALL_TOKEN
  if (!token) throw new Error('an admin or ops token is required: --token T or PRECALL_TOKEN')
  const url = values.url ?? env.PRECALL_URL ?? 'http://127.0.0.1:8080'
  const api = createGatewayApi({ url, token })
  const found = await api.request('GET', '/device-types/washer')
  if (found.status === 404) await api.call('POST', '/device-types', deviceTypeById(readCatalogue(), 'washer'))

  const ids = Array.from({ length: Number(values.devices) }, (_, i) => `${values['id-prefix']}${i}`)
  const log = (line: string) => process.stderr.write(`${line}\n`)
  log(`registering ${ids.length} device(s)…`)
  const devices = await mapBounded(ids, 32, (id) => api.registerDevice({ id, typeId: 'washer' }))
  const qos = values.qos === '0' ? 0 : 1
  const result = await runLoad({
    url: values.mqtt ?? env.PRECALL_MQTT_URL ?? `mqtt://${new URL(url).hostname}:1883`,
    devices, seconds: Number(values.seconds), qos,
    ...(values.rate !== undefined ? { ratePerSecond: Number(values.rate) } : { window: Number(values.window ?? 8) }),
    onSecond: (s) => log(`  ${s.second}s: ${s.acked} acked, ${s.inflight} in flight`),
  })
  log(`${result.devices} devices, QoS ${qos}: ${result.perSecond.toFixed(0)} acked/s (offered ${result.offeredPerSecond.toFixed(0)}/s), PUBACK p50 ${result.p50Ms.toFixed(1)} ms, p90 ${result.p90Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  return result.failed > 0 ? 1 : 0
}
