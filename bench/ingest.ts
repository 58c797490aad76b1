import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { createTestDatabaseUrl } from '../test/support/databases.js'
import { WASHER } from '../test/support/gateway.js'
import { runLoad, type LoadResult } from '../device-sim/load-generator.js'

// Durable ingest throughput: bare aedes (the ceiling) vs precall on PostgreSQL and on PGlite,
// each in its own process, loaded by the same generator from this process.
const { values } = parseArgs({ options: {
  devices: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' }, window: { type: 'string', default: '8' },
} })
const devices = Number(values.devices)
const seconds = Number(values.seconds)
const window = Number(values.window)
const TOKEN = 'bench-admin-token-0123456789'

async function start(script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'ignore'],
  })
  const ready = await new Promise<{ httpPort?: number; mqttPort: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (l) => { if (l.includes('"ready"')) resolve(JSON.parse(l)) })
  })
  return { ...ready, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM') }) }
}

async function registerDevices(httpPort: number) {
  const call = async (route: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1${route}`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })
    if (res.status >= 300) throw new Error(`${route}: ${res.status} ${await res.text()}`)
    return res.json() as Promise<{ id: string; secret: string }>
  }
  await call('/device-types', WASHER)
  await call('/rules', {
    id: 'bench-drain', name: 'Drain slow', deviceType: 'washer', severity: 'major',
    when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120, for: '10m' },
    ticket: { problem: 'drain-pump', title: 'Drain pump clogging' },
  })
  const out: { id: string; secret: string }[] = []
  for (let i = 0; i < devices; i += 20) {
    out.push(...await Promise.all(Array.from({ length: Math.min(20, devices - i) }, (_, k) => call('/devices', { id: `bench-${i + k}`, typeId: 'washer' }))))
  }
  return out
}

async function precall(env: Record<string, string>): Promise<LoadResult> {
  const gw = await start('gateway/main.ts', { ADMIN_TOKEN: TOKEN, ...env })
  try {
    const fleet = await registerDevices(gw.httpPort!)
    return await runLoad({ url: `mqtt://127.0.0.1:${gw.mqttPort}`, devices: fleet, seconds, window })
  } finally {
    await gw.stop()
  }
}

const results: Record<string, LoadResult> = {}
const bare = await start('bench/bare-aedes.ts', {})
results['bare aedes (ceiling)'] = await runLoad({
  url: `mqtt://127.0.0.1:${bare.mqttPort}`, devices: Array.from({ length: devices }, (_, i) => ({ id: `bench-${i}` })), seconds, window,
})
await bare.stop()

const pg = await createTestDatabaseUrl()
try {
  results['precall on PostgreSQL'] = await precall({ DATABASE_URL: pg.url })
} finally {
  await pg.drop()
}
const dataDir = mkdtempSync(path.join(tmpdir(), 'precall-bench-'))
try {
  results['precall on PGlite'] = await precall({ DATA_DIR: dataDir })
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}

const ceiling = results['bare aedes (ceiling)'].perSecond
console.log(`\nQoS 1, ${devices} devices, ${window} in flight each, ${seconds} s per run, ${new Date().toISOString()}\n`)
console.log('run'.padEnd(24), 'readings/s'.padStart(11), 'vs ceiling'.padStart(11), 'PUBACK p50'.padStart(11), 'p99'.padStart(9))
for (const [name, r] of Object.entries(results)) {
  console.log(name.padEnd(24), r.perSecond.toFixed(0).padStart(11), `${((r.perSecond / ceiling) * 100).toFixed(0)} %`.padStart(11),
    `${r.p50Ms.toFixed(1)} ms`.padStart(11), `${r.p99Ms.toFixed(1)} ms`.padStart(9))
}
