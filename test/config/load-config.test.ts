import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../gateway/config/load-config.js'

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({})
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8080 })
    expect(c.mqtt.port).toBe(1883)
    expect(c.mqtt.receiveMaximum).toBe(1000)
    // Without an id of its own, the gateway's session lasts a minute after a lost connection.
    expect(c.mqtt.clientId).toBeUndefined()
    expect(c.mqtt.sessionExpirySeconds).toBe(60)
    // With one, which it can resume under after a restart, a day.
    expect(loadConfig({ MQTT_CLIENT_ID: 'precall-eu-1' }).mqtt.sessionExpirySeconds).toBe(86_400)
    expect(c.db).toEqual({ url: undefined, dataDir: './data', poolMax: 20 })
    expect(c.outbox.timeoutMs).toBe(15_000)
    // Unset: the gateway picks the linger for its database (0 on PostgreSQL, 4 ms on PGlite).
    expect(c.ingest.lingerMs).toBe(5)
    // The default schedule spans about three days.
    const total = c.outbox.retryScheduleMs.reduce((a, b) => a + b, 0)
    expect(total / 86_400_000).toBeGreaterThan(2.5)
    expect(total / 86_400_000).toBeLessThan(3.5)
    expect(Object.isFrozen(c) && Object.isFrozen(c.outbox)).toBe(true)
    // Raw readings for 30 days (older ones are refused at ingest), hourly rollups for two years.
    expect(c.retention).toEqual({ readingsMs: 30 * 86_400_000, rollupsMs: 730 * 86_400_000, pollMs: 60_000 })
    expect(c.ingest.maxAgeMs).toBe(c.retention.readingsMs)
  })

  it('parses every value it is given', () => {
    const c = loadConfig({
      HTTP_PORT: '0', MQTT_PORT: '1884', DATABASE_URL: 'postgres://u@db:5432/precall', DATA_DIR: 'memory',
      WEBHOOK_RETRY_SCHEDULE_MS: '10,20', WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'debug', INGEST_LINGER_MS: '0', DATABASE_POOL_MAX: '8',
      MQTT_RECEIVE_MAXIMUM: '64', MQTT_CLIENT_ID: 'precall-eu-1', MQTT_SESSION_EXPIRY_S: '0',
    })
    expect(c.mqtt.receiveMaximum).toBe(64)
    expect(c.mqtt.clientId).toBe('precall-eu-1')
    expect(c.mqtt.sessionExpirySeconds).toBe(0)
    expect(c.ingest.lingerMs).toBe(0)
    expect(c.db.poolMax).toBe(8)
    expect(c.http.port).toBe(0)
    expect(c.mqtt.port).toBe(1884)
    expect(c.db.url).toBe('postgres://u@db:5432/precall')
    expect(c.outbox.retryScheduleMs).toEqual([10, 20])
    expect(c.outbox.allowPrivateAddresses).toBe(true)
    const kept = loadConfig({ READINGS_RETENTION_DAYS: '7', ROLLUPS_RETENTION_DAYS: '3650', RETENTION_POLL_MS: '60000' })
    expect(kept.retention).toEqual({ readingsMs: 7 * 86_400_000, rollupsMs: 3650 * 86_400_000, pollMs: 60_000 })
    expect(kept.ingest.maxAgeMs).toBe(7 * 86_400_000)
  })

  it('names every bad key in one error', () => {
    let error: unknown
    try {
      loadConfig({ HTTP_PORT: 'eighty', MQTT_PORT: '70000', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short', WEBHOOK_ALLOW_PRIVATE: 'maybe', INGEST_LINGER_MS: '500', DATABASE_POOL_MAX: '1', MQTT_RECEIVE_MAXIMUM: '0', MQTT_CLIENT_ID: 'two words', MQTT_SESSION_EXPIRY_S: '-1', READINGS_RETENTION_DAYS: '0', ROLLUPS_RETENTION_DAYS: 'forever' })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['ADMIN_TOKEN', 'DATABASE_POOL_MAX', 'DATABASE_URL', 'HTTP_PORT', 'INGEST_LINGER_MS', 'LOG_LEVEL', 'MQTT_CLIENT_ID', 'MQTT_PORT', 'MQTT_RECEIVE_MAXIMUM', 'MQTT_SESSION_EXPIRY_S', 'READINGS_RETENTION_DAYS', 'ROLLUPS_RETENTION_DAYS', 'WEBHOOK_ALLOW_PRIVATE'])
    expect((error as ConfigError).message).toContain('expected a postgres://')
  })

  it('makes the gateway exit at start with that message and no stack trace', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
      env: { ...process.env, HTTP_PORT: 'eighty', LOG_LEVEL: 'loud', DATA_DIR: 'memory' },
      encoding: 'utf8', timeout: 20_000,
    })
    expect(run.status).toBe(78)
    expect(run.stderr).toMatch(/HTTP_PORT: .*LOG_LEVEL: /)
    expect(run.stderr).not.toMatch(/at .*\.ts:\d+/)
  })
})
