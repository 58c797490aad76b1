import { parseArgs } from 'node:util'
import { createClimate, type ClimateOptions } from './climate.js'
import { requireDuration } from './duration.js'
import { loadScenario, shareSchema } from './load-scenario.js'
import { fleetOf, type FleetOptions } from './plan-fleet.js'
import { PROFILE_IDS, type ProfileId } from './profiles/profile.js'

export const USAGE = `usage: npm run sim -- [options]            run a simulated fleet against a gateway
       npm run sim -- catalogue [options]  load the default catalogue (device types and rules) and exit
       npm run sim -- load --help          the load generator (many connections, target rate, PUBACK latency)

  --devices N          fleet size (default 10)             --profile P   washer|fridge|air-conditioner|water-heater|mixed
  --faults S           share of devices with a random fault, "5%" (or a count, "3")
  --speed X            simulated seconds per second (default 3600), or "max"
  --duration D         wall-clock length of the run ("30m"); simulated span = duration × speed
  --span D             simulated span instead ("14d")      --start ISO   event time of the first reading (default now − span)
  --scenario FILE      YAML/JSON fleet and faults (see device-sim/scenarios); flags override it
  --url URL            gateway HTTP (default http://127.0.0.1:8080)   --mqtt URL   broker (default mqtt://<url host>:1883)
  --token T            admin/ops token (or PRECALL_TOKEN)  --seed N      (default 42)   --qos 0|1 (default 1)
  --record FILE        JSON lines of everything published, in event-time order
  --ground-truth FILE  the injected faults, for npm run score
  --load-catalogue     load the default catalogue first    --overwrite   replace catalogue entries edited through the API
  --id-prefix P        device id prefix (default "sim-")   --report-every D   telemetry interval (default 10m)
  --window N           unacknowledged publishes per device (default 4096 / devices, 2-32)   --connect-parallel N (default 50)
  --end-status S       powered_off (default) or none: what devices say when the run ends
  --dry-run            no gateway: only generate, record and write the ground truth`

export type CliOptions = Awaited<ReturnType<typeof parseCliOptions>>

export async function parseCliOptions(argv: string[], env: Record<string, string | undefined>, now = Date.now()) {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      devices: { type: 'string' }, profile: { type: 'string' }, faults: { type: 'string' }, speed: { type: 'string' },
      duration: { type: 'string' }, span: { type: 'string' }, start: { type: 'string' }, scenario: { type: 'string' },
      url: { type: 'string' }, mqtt: { type: 'string' }, token: { type: 'string' }, seed: { type: 'string' }, qos: { type: 'string' },
      record: { type: 'string' }, 'ground-truth': { type: 'string' }, 'load-catalogue': { type: 'boolean' }, overwrite: { type: 'boolean' },
      'id-prefix': { type: 'string' }, 'report-every': { type: 'string' }, window: { type: 'string' }, 'connect-parallel': { type: 'string' },
      'end-status': { type: 'string' }, 'dry-run': { type: 'boolean' }, catalogue: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
  const command = values.help ? 'help' : positionals[0] === 'catalogue' ? 'catalogue' : 'run'
  if (positionals.length > (command === 'catalogue' ? 1 : 0)) throw new Error(`unexpected argument ${JSON.stringify(positionals.at(-1))}\n${USAGE}`)
  const scenario = values.scenario ? await loadScenario(values.scenario) : undefined

  const int = (v: string | undefined, name: string, min: number) => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`)
    return n
  }
  const speedFlag = values.speed === undefined ? undefined : values.speed === 'max' ? 'max' as const : Number(values.speed)
  if (typeof speedFlag === 'number' && !(speedFlag > 0)) throw new Error(`--speed: expected a positive number or "max", got ${JSON.stringify(values.speed)}`)
  const speed = speedFlag ?? scenario?.speed ?? 3600

  let spanMs = values.span !== undefined ? requireDuration(values.span, '--span') : undefined
  if (spanMs === undefined && values.duration !== undefined) {
    if (speed === 'max') throw new Error('--duration needs a numeric --speed; with --speed max give the simulated --span')
    spanMs = requireDuration(values.duration, '--duration') * speed
  }
  spanMs ??= scenario?.span ?? 86_400_000
  const startIso = values.start ?? scenario?.start
  const start = startIso !== undefined ? Date.parse(startIso) : now - spanMs
  if (Number.isNaN(start)) throw new Error(`--start: expected an ISO-8601 time, got ${JSON.stringify(startIso)}`)
  if (start + spanMs > now + 60_000) throw new Error(`the run would end ${new Date(start + spanMs).toISOString()}, in the future: the gateway refuses readings more than 5 minutes ahead of its clock`)

  const devices = int(values.devices, 'devices', 1)
  const profile = (values.profile ?? 'mixed') as ProfileId | 'mixed'
  if (profile !== 'mixed' && !PROFILE_IDS.includes(profile)) throw new Error(`--profile: expected one of ${[...PROFILE_IDS, 'mixed'].join(', ')}, got ${JSON.stringify(profile)}`)
  const fleet: FleetOptions['fleet'] = devices !== undefined || values.profile !== undefined || !scenario ? fleetOf(profile, devices ?? 10) : scenario.fleet
  const fleetSize = fleet.reduce((n, g) => n + g.count, 0)
  let randomFaults = scenario?.randomFaults ?? 0
  if (values.faults !== undefined) {
    randomFaults = /^\d+$/.test(values.faults) && Number(values.faults) > 1 ? Math.min(1, Number(values.faults) / fleetSize) : parseShare(values.faults)
  }

  const url = values.url ?? env.PRECALL_URL ?? 'http://127.0.0.1:8080'
  const climate: ClimateOptions = scenario?.climate ?? {}
  const qos = values.qos !== undefined ? (values.qos === '0' ? 0 : values.qos === '1' ? 1 : badQos(values.qos)) : scenario?.qos ?? 1
  const endStatus = (values['end-status'] ?? scenario?.endStatus ?? 'powered_off') as 'powered_off' | 'none'
  if (endStatus !== 'powered_off' && endStatus !== 'none') throw new Error('--end-status: expected powered_off or none')

  return {
    command, scenarioName: scenario?.name,
    url, mqttUrl: values.mqtt ?? env.PRECALL_MQTT_URL ?? `mqtt://${new URL(url).hostname}:1883`,
    token: values.token ?? env.PRECALL_TOKEN,
    speed, qos: qos as 0 | 1, endStatus,
    climate: createClimate(climate), utcOffsetHours: createClimate(climate).utcOffsetHours,
    fleet: {
      seed: int(values.seed, 'seed', 0) ?? scenario?.seed ?? 42, start, spanMs,
      idPrefix: values['id-prefix'] ?? scenario?.idPrefix ?? 'sim-',
      fleet, faults: (scenario?.faults ?? []).map((f) => ({ ...f, startAfterMs: f.startAfter, durationMs: f.duration })), randomFaults,
    } satisfies FleetOptions,
    intervalMs: values['report-every'] !== undefined ? requireDuration(values['report-every'], '--report-every') : scenario?.reportEvery,
    record: values.record, groundTruth: values['ground-truth'],
    loadCatalogue: values['load-catalogue'] ?? false, overwrite: values.overwrite ?? false, dryRun: values['dry-run'] ?? false,
    catalogueDir: values.catalogue,
    window: int(values.window, 'window', 1), connectParallel: int(values['connect-parallel'], 'connect-parallel', 1) ?? 50,
  }
}

function parseShare(value: string): number {
  const parsed = shareSchema.safeParse(value)
  if (!parsed.success) throw new Error(`--faults: ${parsed.error.issues[0].message}`)
  return parsed.data
}

function badQos(value: string): never {
  throw new Error(`--qos: expected 0 or 1, got ${JSON.stringify(value)}`)
}
