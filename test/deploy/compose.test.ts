import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import postgresClient from 'postgres'
import { startFlags } from '../../bench/systems/precall.js'
import { ConfigError, loadConfig } from '../../gateway/config/load-config.js'
import { TEST_DATABASE_URL } from '../support/databases.js'

// No Docker engine in CI: these checks keep docker-compose.yml and the Dockerfile in step with
// the code they deploy, so a renamed variable or a moved folder fails here instead of in production.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8')

type Service = {
  image?: string
  command?: string | string[]
  build?: string | { context?: string }
  depends_on?: string[] | Record<string, { condition?: string }>
  environment?: string[] | Record<string, string | number | boolean | null>
  ports?: (string | number | { target: number })[]
  volumes?: (string | { source?: string; target: string })[]
  healthcheck?: { test: string | string[] }
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> }
const services = compose.services ?? {}
const gateway = services.gateway ?? {}
const postgres = services.postgres ?? {}

/** What the operator's shell must supply: variables the compose file guards with `:?`. */
const OPERATOR_ENV: Record<string, string> = { ADMIN_TOKEN: 'compose-test-admin-token-0123' }

/** Compose interpolation: `${X}`, `${X:-default}`, `${X-default}`, `${X:?error}`, `${X?error}`, `$X`, `$$`. */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g, (whole, braced, op, arg, bare) => {
    if (whole === '$$') return '$'
    const name = braced ?? bare
    const set = shell[name]
    const present = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined
    if (present) return set
    if (op === ':-' || op === '-') return arg
    if (op === ':?' || op === '?') throw new Error(`compose requires ${name}: ${arg}`)
    throw new Error(`\${${name}} has no default and no :? guard; compose would substitute an empty string`)
  })
}

function rawEnvironment(service: Service): Record<string, string> {
  const env = service.environment ?? {}
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => {
      const i = entry.indexOf('=')
      return i < 0 ? [entry, ''] : [entry.slice(0, i), entry.slice(i + 1)]
    }))
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

const environment = (service: Service, shell = OPERATOR_ENV) =>
  Object.fromEntries(Object.entries(rawEnvironment(service)).map(([k, v]) => [k, interpolate(v, shell)]))

/** Container-side ports of a compose `ports` list (short or long syntax). */
function containerPorts(service: Service): number[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return Number(p.target)
    const spec = String(p).replace(/\/(tcp|udp)$/, '')
    return Number(spec.split(':').at(-1))
  })
}

type Instruction = { op: string; args: string }
function dockerInstructions(text: string): Instruction[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/)
      return { op: op.toUpperCase(), args: rest.join(' ') }
    })
}
const dockerfile = dockerInstructions(read('Dockerfile'))
const all = (op: string) => dockerfile.filter((i) => i.op === op)

function dockerfileEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args } of all('ENV')) {
    if (!args.includes('=')) {
      const [key, ...value] = args.split(/\s+/)
      env[key] = value.join(' ')
      continue
    }
    for (const pair of args.match(/[A-Za-z_]\w*=("[^"]*"|\S*)/g) ?? []) {
      const i = pair.indexOf('=')
      env[pair.slice(0, i)] = pair.slice(i + 1).replace(/^"|"$/g, '')
    }
  }
  return env
}

/** Sources of each COPY from the build context (not `--from` another stage), without flags. */
const copiedPaths = () => all('COPY')
  .filter((i) => !/--from=/.test(i.args))
  .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1))
  .map((src) => src.replace(/^\.\//, '').replace(/\/$/, ''))

// loadConfig ignores keys it does not know, so "loadConfig accepts it" alone would let a renamed
// variable through. A key is one loadConfig reads if a probe value changes the result or is refused by name.
const BASELINE = JSON.stringify(loadConfig({}))
function isConfigKey(key: string): boolean {
  for (const probe of ['-1', 'not a valid value']) {
    try {
      if (JSON.stringify(loadConfig({ [key]: probe })) !== BASELINE) return true
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      if (err.problems.some((p) => p.startsWith(`${key}:`))) return true
    }
  }
  return false
}
// Read by Node and npm themselves, not by precall.
const RUNTIME_KEYS = new Set(['NODE_ENV'])

describe('docker-compose.yml', () => {
  it('runs exactly postgres 15 and the gateway built from this repository', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway', 'postgres'])
    expect(postgres.image).toMatch(/^postgres:15(\b|$)/)
    const build = typeof gateway.build === 'string' ? gateway.build : gateway.build?.context
    expect(build).toBe('.')
  })

  it('keeps PostgreSQL data in a declared named volume and checks it with pg_isready', () => {
    const mounts = (postgres.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
    const data = mounts.find((m) => m.target === '/var/lib/postgresql/data')
    expect(data?.source).toBeTruthy()
    expect(Object.keys(compose.volumes ?? {})).toContain(data?.source)
    expect([postgres.healthcheck?.test].flat().join(' ')).toContain('pg_isready')
  })

  it('passes PostgreSQL only settings that PostgreSQL 15 has, with values in their range', async () => {
    const args = [postgres.command ?? []].flat()
    expect(args[0]).toBe('postgres')
    const settings = args.slice(1).flatMap((arg, i, all) => (all[i - 1] === '-c' ? [arg.split('=') as [string, string]] : []))
    expect(settings.length).toBeGreaterThan(0)
    const sql = postgresClient(TEST_DATABASE_URL, { max: 1, onnotice: () => {} })
    try {
      for (const [name, value] of settings) {
        const [known] = await sql<{ unit: string; min: string; max: string }[]>`
          select unit, min_val as min, max_val as max from pg_settings where name = ${name}`
        expect(known, `${name} is not a PostgreSQL setting`).toBeDefined()
        // Sizes only so far: the value in the setting's own unit (MB for max_wal_size).
        const size = /^(\d+)(kB|MB|GB)$/.exec(value)
        expect(size, `${name}=${value} is not a size`).not.toBeNull()
        const inKb = Number(size![1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[size![2] as 'kB' | 'MB' | 'GB']
        const unitKb = { kB: 1, '8kB': 8, MB: 1024 }[known!.unit as 'kB' | '8kB' | 'MB']
        expect(unitKb, `${name} is measured in ${known!.unit}`).toBeDefined()
        expect(inKb / unitKb).toBeGreaterThanOrEqual(Number(known!.min))
        expect(inKb / unitKb).toBeLessThanOrEqual(Number(known!.max))
      }
    } finally {
      await sql.end()
    }
  })

  it('starts the gateway only once postgres is healthy', () => {
    const deps = gateway.depends_on
    expect(deps && !Array.isArray(deps) ? deps.postgres?.condition : deps).toBe('service_healthy')
  })

  it('sets only variables loadConfig reads, and loadConfig accepts their values', () => {
    const env = environment(gateway)
    expect(isConfigKey('NOT_A_PRECALL_SETTING')).toBe(false)
    expect(Object.keys(env).filter((k) => !isConfigKey(k))).toEqual([])
    expect(() => loadConfig(env)).not.toThrow()
  })

  it('requires ADMIN_TOKEN from the shell instead of shipping one', () => {
    expect(rawEnvironment(gateway).ADMIN_TOKEN).toMatch(/^\$\{ADMIN_TOKEN:\?[^}]+\}$/)
    expect(() => environment(gateway, {})).toThrow(/ADMIN_TOKEN/)
    expect(loadConfig(environment(gateway)).auth.adminToken).toBe(OPERATOR_ENV.ADMIN_TOKEN)
  })

  it('points DATABASE_URL at the postgres service with its user, password and database', () => {
    const db = new URL(environment(gateway).DATABASE_URL ?? 'missing:')
    const pg = environment(postgres)
    expect(db.protocol).toMatch(/^postgres(ql)?:$/)
    expect(db.hostname).toBe('postgres')
    expect(db.port || '5432').toBe('5432')
    expect(decodeURIComponent(db.username)).toBe(pg.POSTGRES_USER ?? 'postgres')
    expect(decodeURIComponent(db.password)).toBe(pg.POSTGRES_PASSWORD)
    expect(db.pathname.slice(1)).toBe(pg.POSTGRES_DB ?? pg.POSTGRES_USER ?? 'postgres')
    expect(loadConfig(environment(gateway)).db.url).toBe(environment(gateway).DATABASE_URL)
  })

  it('publishes the ports the gateway listens on with the image and compose settings', () => {
    const config = loadConfig({ ...dockerfileEnv(), ...environment(gateway) })
    expect(containerPorts(gateway).sort()).toEqual([config.http.port, config.mqtt.port].sort())
  })

  it('checks readiness at /readyz with node, since the slim image has no curl', () => {
    const config = loadConfig({ ...dockerfileEnv(), ...environment(gateway) })
    const test = [gateway.healthcheck?.test].flat().join(' ')
    expect(test).toContain(`:${config.http.port}/readyz`)
    expect(test).toMatch(/\bnode\b/)
    expect(test).not.toMatch(/\b(curl|wget)\b/)
  })
})

describe('Dockerfile', () => {
  it('builds on node:20-slim and runs the gateway entry point as a non-root user', () => {
    expect(all('FROM')[0]?.args).toMatch(/^node:20-slim(\s|$)/)
    const user = all('USER').at(-1)?.args
    expect(user).toBeTruthy()
    expect(user).not.toMatch(/^(root|0)(:|$)/)
    expect(all('CMD').at(-1)?.args ?? all('ENTRYPOINT').at(-1)?.args).toContain('gateway/main.ts')
  })

  it('gives node the flags npm start gives it, as the bench does', () => {
    const flags = startFlags()
    expect(flags).toContain('--max-semi-space-size=64')
    const cmd = JSON.parse(all('CMD').at(-1)!.args) as string[]
    expect(cmd.slice(0, cmd.indexOf('--import'))).toEqual(['node', ...flags])
  })

  it('installs production dependencies only, which must include tsx since it runs the TypeScript', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> }
    const cmd = `${all('ENTRYPOINT').at(-1)?.args ?? ''} ${all('CMD').at(-1)?.args ?? ''}`
    expect(all('RUN').some((r) => /npm ci\b.*--omit=dev/.test(r.args))).toBe(true)
    if (/\btsx\b/.test(cmd)) expect(Object.keys(pkg.dependencies)).toContain('tsx')
  })

  it('exposes the ports compose publishes', () => {
    const exposed = all('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.replace(/\/(tcp|udp)$/, '')))
    expect(exposed.sort()).toEqual(containerPorts(gateway).sort())
  })

  it('sets only variables loadConfig reads, and keeps DATA_DIR on the declared volume', () => {
    const env = dockerfileEnv()
    expect(Object.keys(env).filter((k) => !RUNTIME_KEYS.has(k) && !isConfigKey(k))).toEqual([])
    expect(env.DATA_DIR).toBeTruthy()
    expect(all('VOLUME').flatMap((v) => v.args.replace(/[[\]",]/g, ' ').split(/\s+/))).toContain(env.DATA_DIR)
  })

  it('copies the migrations, the dependency patches before npm ci, and every folder the gateway imports from', () => {
    const copied = copiedPaths()
    expect(copied).toContain('migrations')
    const needed = new Set(['gateway', 'migrations', 'package.json', 'package-lock.json', 'patches', ...importedTopLevelDirs('gateway')])
    expect([...needed].filter((p) => !copied.includes(p))).toEqual([])
    // npm ci's postinstall applies patches/ (patch-package): they must be there before it runs.
    const order = dockerfile.map((i) => `${i.op} ${i.args}`)
    expect(order.findIndex((l) => /^COPY .*\bpatches\b/.test(l))).toBeGreaterThanOrEqual(0)
    expect(order.findIndex((l) => /^COPY .*\bpatches\b/.test(l))).toBeLessThan(order.findIndex((l) => /^RUN .*npm ci\b/.test(l)))
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim().replace(/^\.?\//, '').replace(/\/$/, '')).filter((l) => l && !l.startsWith('#'))
    expect([...needed].filter((p) => ignored.includes(p))).toEqual([])
  })
})

/** Top-level folders reached by relative imports from `dir`, following them transitively. */
function importedTopLevelDirs(dir: string): string[] {
  const seen = new Set<string>()
  const found = new Set<string>()
  const visit = (d: string) => {
    if (seen.has(d)) return
    seen.add(d)
    found.add(d)
    for (const file of readdirSync(path.join(ROOT, d), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue
      const source = read(path.join(d, file))
      for (const [, spec] of source.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = path.relative(ROOT, path.resolve(ROOT, d, path.dirname(file), spec))
        const top = target.split(path.sep)[0]
        if (top && top !== '..' && !top.includes('.')) visit(top)
      }
    }
  }
  visit(dir)
  return [...found]
}
