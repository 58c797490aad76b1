import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import mqtt from 'mqtt'
import postgres from 'postgres'
import { PGlite } from '@electric-sql/pglite'
import { BACKENDS, createTestDatabaseUrl } from '../support/databases.js'
import { DRAIN_RULE, TEST_ADMIN_TOKEN, WASHER } from '../support/gateway.js'
import { killHard, spawnGateway, callGateway } from '../support/child-gateway.js'
import { startReceiver } from '../outbox/receiver.js'

const DEVICES = 40


describe.each(BACKENDS)('kill -9 during QoS 1 load on %s', (backend) => {
  const cleanup: (() => Promise<unknown> | unknown)[] = []
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  it('loses no acknowledged reading, stores none twice, and delivers the claimed webhook after the lease', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'precall-crash-'))
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const pg = backend === 'postgres' ? await createTestDatabaseUrl() : undefined
    if (pg) cleanup.push(() => pg.drop())
    // The CRM hangs on the first request, so the dying process holds that outbox row's lease.
    const crm = await startReceiver(['hang'])
    cleanup.push(() => crm.close())
    const env = {
      ADMIN_TOKEN: TEST_ADMIN_TOKEN, WEBHOOK_ALLOW_PRIVATE: 'true', DISPATCH_LEASE_MS: '2000', DISPATCH_POLL_MS: '200',
      WEBHOOK_TIMEOUT_MS: '60000', ...(pg ? { DATABASE_URL: pg.url } : { DATA_DIR: dataDir }),
    }

    let gw = await spawnGateway(env)
    cleanup.push(() => killHard(gw.child))
    await callGateway(gw.httpPort, 'POST', '/device-types', WASHER)
    await callGateway(gw.httpPort, 'POST', '/rules', { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } })
    await callGateway(gw.httpPort, 'POST', '/webhooks', { url: crm.url, events: ['ticket.opened'] })
    const devices = await Promise.all(Array.from({ length: DEVICES }, (_, i) =>
      callGateway(gw.httpPort, 'POST', '/devices', { id: `crash-${i}`, typeId: 'washer' })))

    const acked = new Map<string, Set<number>>(devices.map((d) => [d.id, new Set()]))
    const clients = await Promise.all(devices.map((d) => mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
      clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0,
    })))
    cleanup.push(() => Promise.all(clients.map((c) => c.endAsync(true).catch(() => {}))))
    const t0 = Date.now() - 3_600_000
    let stop = false
    const load = clients.map(async (client, i) => {
      const id = devices[i].id
      for (let seq = 0; !stop; seq++) {
        const drain = i === 0 && seq === 5 ? 500 : 60
        try {
          await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: t0 + seq * 1000, seq, metrics: { drain_time_s: drain } }), { qos: 1 })
          acked.get(id)!.add(seq)
        } catch {
          return
        }
      }
    })

    await vi.waitFor(() => expect(crm.received.length).toBe(1), { timeout: 20_000, interval: 50 })
    await vi.waitFor(() => expect([...acked.values()].reduce((n, s) => n + s.size, 0)).toBeGreaterThan(2000), { timeout: 20_000, interval: 50 })
    await killHard(gw.child)
    stop = true
    for (const c of clients) c.end(true)
    await Promise.all(load)
    const totalAcked = [...acked.values()].reduce((n, s) => n + s.size, 0)

    gw = await spawnGateway(env)
    cleanup.push(() => killHard(gw.child))
    // Lease expiry brings the dead worker's row back; the CRM now answers 200.
    await vi.waitFor(() => expect(crm.received.length).toBe(2), { timeout: 20_000, interval: 50 })
    expect(crm.received[1].headers['webhook-id']).toBe(crm.received[0].headers['webhook-id'])
    await killHard(gw.child)

    const rows = await readStoredSeqs(pg?.url, dataDir)
    const stored = new Map<string, number[]>()
    for (const r of rows) stored.set(r.device_id, [...(stored.get(r.device_id) ?? []), Number(r.seq)])
    let missing = 0
    for (const [id, seqs] of acked) {
      const have = new Set(stored.get(id) ?? [])
      for (const s of seqs) if (!have.has(s)) missing++
      expect(have.size).toBe((stored.get(id) ?? []).length)
    }
    expect(missing).toBe(0)
    expect(rows.length).toBeGreaterThanOrEqual(totalAcked)
  }, 120_000)
})

async function readStoredSeqs(url: string | undefined, dataDir: string): Promise<{ device_id: string; seq: number }[]> {
  if (url) {
    const sql = postgres(url, { max: 1 })
    try {
      return [...(await sql<{ device_id: string; seq: number }[]>`select device_id, seq from readings where kind = 'telemetry'`)]
    } finally {
      await sql.end()
    }
  }
  const db = await PGlite.create(dataDir)
  try {
    return (await db.query<{ device_id: string; seq: number }>(`select device_id, seq from readings where kind = 'telemetry'`)).rows
  } finally {
    await db.close()
  }
}
