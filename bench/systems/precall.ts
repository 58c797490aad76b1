import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTestDatabaseUrl } from '../../test/support/databases.js'
import { createGatewayApi } from '../../device-sim/gateway-api.js'
import { loadCatalogue } from '../../device-sim/load-catalogue.js'
import { mapBounded } from '../../device-sim/map-bounded.js'
import { startChild } from '../child-process.js'
import { startMosquitto } from '../../test/support/mosquitto.js'
import { benchDeviceIds, type SystemContext, type SystemUnderTest } from './system.js'

const TOKEN = 'bench-admin-token-0123456789'
// prom-client sets the delay gauges, and resets its histogram, when the first of them is collected.
const LOOP_DELAY = ['lag_seconds', 'lag_p99_seconds', 'lag_max_seconds'].map((m) => `precall_nodejs_eventloop_${m}`)

/** The gateway's `/metrics`, only the metrics named (none of the KPI queries run). */
async function scrape(httpUrl: string, names: string[]): Promise<string> {
  return (await fetch(`${httpUrl}/metrics?${names.map((n) => `name=${n}`).join('&')}`)).text()
}

/** One series' value in Prometheus text (`series` as printed: name and labels), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The node flags `npm start` gives the gateway (`tsx --flag… gateway/main.ts` in package.json). */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  return pkg.scripts.start.split(/\s+/).filter((word) => word.startsWith('--'))
}

/**
 * The whole gateway in its own process, as `npm start` runs it, node flags included: the default
 * catalogue, devices with their own secrets, PUBACK after commit, and a webhook subscription for
 * ticket events. `broker: 'mosquitto'` puts it behind an external broker (MQTT_URL, a private
 * Mosquitto): devices connect there anonymously and the gateway takes their readings from its
 * shared subscription. `broker: 'embedded-thread'` runs the embedded broker on its own thread
 * (MQTT_BROKER_THREAD).
 */
export async function startPrecall(ctx: SystemContext, backend: 'postgres' | 'pglite', broker: 'embedded' | 'mosquitto' | 'embedded-thread' = 'embedded'): Promise<SystemUnderTest> {
  const pg = backend === 'postgres' ? await createTestDatabaseUrl() : undefined
  const dataDir = backend === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'precall-bench-')) : undefined
  let mosquitto: Awaited<ReturnType<typeof startMosquitto>> | undefined
  const cleanup = async () => {
    await mosquitto?.stop()
    await pg?.drop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    if (broker === 'mosquitto') mosquitto = await startMosquitto()
    const child = await startChild(['gateway/main.ts'], {
      name: `precall on ${backend}`,
      env: {
        HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', ADMIN_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE: 'true',
        ...(pg ? { DATABASE_URL: pg.url } : { DATA_DIR: dataDir! }),
        ...(mosquitto ? { MQTT_URL: mosquitto.url } : {}),
        ...(broker === 'embedded-thread' ? { MQTT_BROKER_THREAD: 'true' } : {}),
        ...ctx.env,
      },
      nodeArgs: [...startFlags(), ...(ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(ctx.profileDir)}`] : []), ...(ctx.nodeArgs ?? [])],
      logFile: ctx.logFile,
    })
    const httpUrl = `http://127.0.0.1:${child.ready.httpPort}`
    try {
      const api = createGatewayApi({ url: httpUrl, token: TOKEN })
      const catalogue = await loadCatalogue(api)
      const refused = catalogue.rules.filter((r) => r.action === 'refused')
      if (refused.length > 0) throw new Error(`the gateway refused catalogue rules: ${refused.map((r) => r.id).join(', ')}`)
      await api.call('POST', '/webhooks', { url: ctx.alertUrl, events: ['ticket.opened', 'ticket.updated'] })
      const devices = await mapBounded(benchDeviceIds(ctx.devices), 32, (id) => api.registerDevice({ id, typeId: 'washer' }))
      return {
        mqttUrl: mosquitto?.url ?? `mqtt://127.0.0.1:${child.ready.mqttPort}`,
        // Mosquitto lets anyone in: the gateway trusts the external broker's authentication.
        devices: mosquitto ? devices.map(({ id }) => ({ id })) : devices,
        async processed() {
          const text = await scrape(httpUrl, ['precall_readings_accepted_total'])
          return sample(text, 'precall_readings_accepted_total{kind="telemetry"}') ?? 0
        },
        async loopDelay() {
          const text = await scrape(httpUrl, LOOP_DELAY)
          const ms = (name: string) => (sample(text, name) ?? NaN) * 1000
          return { p99Ms: ms('precall_nodejs_eventloop_lag_p99_seconds'), maxMs: ms('precall_nodejs_eventloop_lag_max_seconds') }
        },
        pids: mosquitto ? [child.pid, mosquitto.pid] : [child.pid],
        async stop() {
          await child.stop()
          await cleanup()
        },
      }
    } catch (err) {
      await child.stop()
      throw err
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}
