import mqtt, { type MqttClient } from 'mqtt'
import { loadConfig } from '../../gateway/config/load-config.js'
import { buildGateway, type Gateway, type GatewayOptions } from '../../gateway/gateway.js'
import { createTestDatabaseUrl, type Backend } from './databases.js'

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789'

/** Where the embedded broker runs: on the event loop's thread (the default) or on its own (MQTT_BROKER_THREAD). */
export const BROKER_PLACEMENTS = [
  ['on the event loop\'s thread', {}],
  ['on its own thread', { MQTT_BROKER_THREAD: 'true' }],
] as const satisfies readonly (readonly [string, Record<string, string>])[]

export type TestGateway = Awaited<ReturnType<typeof startTestGateway>>

/** A real gateway on ports 0: embedded aedes, and PGlite in memory or a fresh PostgreSQL database. */
export async function startTestGateway(backend: Backend, env: Record<string, string> = {}, options: GatewayOptions = {}) {
  // A caller that passes DATABASE_URL keeps its database across gateways (restart tests).
  const pg = backend === 'postgres' && !env.DATABASE_URL ? await createTestDatabaseUrl() : undefined
  const config = loadConfig({
    HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', DATA_DIR: 'memory', ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'silent', DISPATCH_POLL_MS: '200',
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...env,
  })
  const gateway: Gateway = await buildGateway(config, options)
  const { httpPort, mqttPort } = await gateway.listen().catch(async (err: unknown) => {
    // A port taken, say: nothing of this gateway outlives the test that expected it to fail.
    await gateway.close().catch(() => {})
    await pg?.drop()
    throw err
  })
  const clients: MqttClient[] = []

  async function api<T = any>(method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<{ status: number; body: T }> {
    const res = await gateway.http.inject({
      method: method as 'GET', url: `/api/v1${path}`,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    return { status: res.statusCode, body: (res.body ? res.json() : undefined) as T }
  }

  /** The /metrics text, of the metrics named or all. */
  async function scrape(...names: string[]): Promise<string> {
    const query = names.map((name) => `name=${encodeURIComponent(name)}`).join('&')
    return (await gateway.http.inject({ url: query ? `/metrics?${query}` : '/metrics' })).body
  }

  return {
    gateway, httpPort, mqttPort: mqttPort!, api, scrape,
    /** One sample's value, 0 when it has none yet: `metric('precall_mqtt_refused_total', 'reason="acl_subscribe"')`. */
    async metric(name: string, labels?: string): Promise<number> {
      const sample = new RegExp(`^${name}${labels === undefined ? '' : `\\{${labels}\\}`} (\\S+)$`, 'm').exec(await scrape(name))
      return sample ? Number(sample[1]) : 0
    },
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    /** A real MQTT.js device client; closed with the gateway. */
    async connectDevice(id: string, secret: string, opts: mqtt.IClientOptions = {}) {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: id, username: id, password: secret, reconnectPeriod: 0, ...opts })
      clients.push(client)
      return client
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})))
      await gateway.close()
      await pg?.drop()
    },
  }
}

export const WASHER = {
  id: 'washer', name: 'Washing machine',
  metrics: { drain_time_s: { unit: 's', min: 0, max: 3600 }, motor_current_a: { unit: 'A', min: 0, max: 20 } },
}
export const DRAIN_RULE = {
  id: 'washer-drain-slow', name: 'Drain pump clogging', deviceType: 'washer',
  when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120, for: '10m' },
  severity: 'major', ticket: { problem: 'drain-pump', type: 'service', title: 'Drain pump clogging' },
  notifyCustomer: true, mode: 'active',
}

/** Registers the washer type, a customer and `count` devices; returns their secrets. */
export async function registerFleet(t: TestGateway, count = 1, prefix = 'wm') {
  expectStatus(await t.api('POST', '/device-types', WASHER), 201)
  expectStatus(await t.api('POST', '/customers', { id: 'c-1', name: 'Li Wei', locale: 'zh-CN', timezone: 'Asia/Shanghai', tags: ['vip'] }), 201)
  const devices: { id: string; secret: string }[] = []
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${String(i).padStart(4, '0')}`
    const res = expectStatus(await t.api('POST', '/devices', { id, typeId: 'washer', customerId: 'c-1', model: 'WM-8', serial: `SN-${id}` }), 201)
    devices.push({ id, secret: res.body.secret })
  }
  return devices
}

/**
 * Registers `devices` washers under `prefix`, connects each as a real MQTT.js client, and has
 * each publish `each` telemetry readings at QoS 1 all at once; resolves once every one is
 * acknowledged. Returns how many were sent.
 */
export async function publishBurst(t: TestGateway, prefix: string, devices: number, each: number): Promise<number> {
  const fleet = await registerFleet(t, devices, prefix)
  const clients = await Promise.all(fleet.map((d) => t.connectDevice(d.id, d.secret)))
  const ts = Date.now() - 1000
  await Promise.all(clients.flatMap((client, i) => Array.from({ length: each }, (_, seq) =>
    client.publishAsync(`devices/${fleet[i]!.id}/telemetry`, JSON.stringify({ ts: ts + seq, seq, metrics: { drain_time_s: 40 } }), { qos: 1 }))))
  return devices * each
}

export function expectStatus<T extends { status: number; body: any }>(res: T, status: number): T {
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`)
  return res
}
