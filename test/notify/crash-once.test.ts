import { afterAll, describe, expect, it, vi } from 'vitest'
import mqtt from 'mqtt'
import { startReceiver } from '../outbox/receiver.js'
import { killHard, spawnGateway, callGateway } from '../support/child-gateway.js'
import { BACKENDS, createTestDatabaseUrl } from '../support/databases.js'
import { DRAIN_RULE, TEST_ADMIN_TOKEN, WASHER } from '../support/gateway.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { okWithIds } from './harness.js'
import { startSmtpSink } from './smtp-sink.js'


describe.each(BACKENDS)('customer notifications across kill -9 on %s', (backend) => {
  const cleanup: (() => Promise<unknown> | unknown)[] = []
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  it('sends one message per state change: concurrent detections, a notifier killed mid-send, a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'precall-notify-crash-'))
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const pg = backend === 'postgres' ? await createTestDatabaseUrl() : undefined
    if (pg) cleanup.push(() => pg.drop())
    const smtp = await startSmtpSink()
    cleanup.push(() => smtp.close())
    // The SMS provider hangs on the first request, so the dying process is mid-send when killed.
    const sms = await startReceiver(['hang', ...okWithIds('sms')])
    cleanup.push(() => sms.close())
    const env = {
      ADMIN_TOKEN: TEST_ADMIN_TOKEN, WEBHOOK_ALLOW_PRIVATE: 'true', SMTP_URL: smtp.url,
      NOTIFY_PROVIDERS: JSON.stringify({ sms: { url: sms.url, body: { to: '{{to}}', text: '{{text}}' } } }),
      NOTIFY_QUIET_HOURS: 'off', NOTIFY_LEASE_MS: '5000', NOTIFY_POLL_MS: '200', NOTIFY_TIMEOUT_MS: '60000',
      ...(pg ? { DATABASE_URL: pg.url } : { DATA_DIR: dataDir }),
    }

    let gw = await spawnGateway(env)
    cleanup.push(() => killHard(gw.child))
    await callGateway(gw.httpPort, 'POST', '/device-types', WASHER)
    await callGateway(gw.httpPort, 'POST', '/rules', { ...DRAIN_RULE, when: { kind: 'threshold', metric: 'drain_time_s', op: '>', value: 120 } })
    await callGateway(gw.httpPort, 'POST', '/customers', { id: 'c-sms', name: 'Li Wei', locale: 'zh-CN', timezone: 'Asia/Shanghai', channels: [{ type: 'sms', address: '+8613800000020', consent: true }] })
    await callGateway(gw.httpPort, 'POST', '/customers', { id: 'c-mail', name: 'Ann', locale: 'en', timezone: 'Europe/London', channels: [{ type: 'email', address: 'ann@example.com', consent: true }] })
    const devices = [
      await callGateway(gw.httpPort, 'POST', '/devices', { id: 'wm-sms', typeId: 'washer', customerId: 'c-sms' }),
      await callGateway(gw.httpPort, 'POST', '/devices', { id: 'wm-mail', typeId: 'washer', customerId: 'c-mail' }),
    ]

    // Each device breaks the limit many times over, from two connections at once: many detections, one ticket each.
    const t0 = Date.now() - 3_600_000
    await Promise.all(devices.flatMap((d) => [0, 1].map(async (lane) => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, { clientId: `${d.id}-${lane}`, username: d.id, password: d.secret, reconnectPeriod: 0 })
      for (let i = 0; i < 10; i++) {
        const seq = lane * 100 + i * 2
        await client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts: t0 + seq * 1000, seq, metrics: { drain_time_s: 300 } }), { qos: 1 })
        await client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts: t0 + (seq + 1) * 1000, seq: seq + 1, metrics: { drain_time_s: 60 } }), { qos: 1 })
      }
      await client.endAsync()
    })))

    // Killed once the e-mail is recorded as sent and while the SMS request hangs.
    await vi.waitFor(async () => {
      expect(sms.received.length).toBeGreaterThan(0)
      const [mail] = await callGateway(gw.httpPort, 'GET', '/notifications?customerId=c-mail')
      expect(mail?.status).toBe('sent')
    }, { timeout: 20_000, interval: 20 })
    await killHard(gw.child)
    expect(sms.received).toHaveLength(1) // killed within the lease: nobody has sent it again yet

    gw = await spawnGateway(env)
    cleanup.push(() => killHard(gw.child))
    // The lease of the killed worker runs out; the new process sends again under the same id.
    await vi.waitFor(async () => {
      const [m] = await callGateway(gw.httpPort, 'GET', '/notifications?customerId=c-sms')
      expect(m.status).toBe('sent')
    }, { timeout: 20_000, interval: 100 })
    // Give a wrongly repeated send time to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_000))

    const tickets = await callGateway(gw.httpPort, 'GET', '/tickets')
    expect(tickets.map((t: any) => t.deviceId).sort()).toEqual(['wm-mail', 'wm-sms'])
    const [smsMessage, ...otherSms] = await callGateway(gw.httpPort, 'GET', '/notifications?customerId=c-sms')
    const mailMessages = await callGateway(gw.httpPort, 'GET', '/notifications?customerId=c-mail')
    expect(otherSms).toHaveLength(0)
    expect(mailMessages.map((m: any) => [m.kind, m.status])).toEqual([['opened', 'sent']])
    // SMTP: one mail, not resent by the restarted process. Provider: two requests (the one cut off
    // by the kill and the resend) of one message, under one id by which it de-duplicates: a send
    // cut off mid-way is repeated, never lost (at-least-once on the wire, once per state change).
    expect(smtp.to('ann@example.com')).toHaveLength(1)
    expect(smtp.received).toHaveLength(1)
    expect(sms.received).toHaveLength(2)
    expect(new Set(sms.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([smsMessage.messageId]))
    expect(JSON.parse(sms.received[1].body)).toMatchObject({ to: '+8613800000020', text: expect.stringContaining('Li Wei您好') })
    await killHard(gw.child)
  }, 120_000)
})
