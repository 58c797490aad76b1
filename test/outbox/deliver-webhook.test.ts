import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { deliverWebhook } from '../../gateway/outbox/deliver-webhook.js'
import { createSafeAgent } from '../../gateway/outbox/safe-address.js'
import { startReceiver, type Receiver } from './receiver.js'

describe('deliverWebhook', () => {
  const dispatcher = createSafeAgent({ allowPrivate: true })
  let receiver: Receiver | undefined
  const post = (url: string, timeoutMs = 500) =>
    deliverWebhook({ url, headers: { 'content-type': 'application/json' }, body: '{"a":1}', timeoutMs, dispatcher, now: () => Date.parse('2025-03-01T12:00:00Z') })

  afterEach(async () => {
    await receiver?.close()
    receiver = undefined
  })
  afterAll(() => dispatcher.close())

  it('does not follow a redirect: the 3xx is a failed attempt', async () => {
    receiver = await startReceiver([{ status: 302, headers: { location: '/elsewhere' } }, { status: 307, headers: { location: 'http://169.254.169.254/' } }])
    expect(await post(receiver.url)).toEqual({ outcome: 'retry', statusCode: 302, error: 'HTTP 302: redirects are not followed' })
    expect(await post(receiver.url)).toMatchObject({ outcome: 'retry', statusCode: 307 })
    expect(receiver.received.map((r) => r.path)).toEqual(['/hooks', '/hooks'])
  })

  it.each([
    [{ status: 200 }, { outcome: 'delivered', statusCode: 200 }],
    [{ status: 204 }, { outcome: 'delivered', statusCode: 204 }],
    [{ status: 410 }, { outcome: 'gone', statusCode: 410 }],
    [{ status: 400, body: 'bad signature' }, { outcome: 'retry', statusCode: 400, error: 'HTTP 400: bad signature' }],
    [{ status: 503, headers: { 'retry-after': '30' } }, { outcome: 'retry', statusCode: 503, retryAfterMs: 30_000, error: 'HTTP 503' }],
    [{ status: 429, headers: { 'retry-after': 'Sat, 01 Mar 2025 12:01:00 GMT' } }, { outcome: 'retry', statusCode: 429, retryAfterMs: 60_000, error: 'HTTP 429' }],
  ] as const)('maps %j to %j', async (step, expected) => {
    receiver = await startReceiver([step])
    expect(await post(receiver.url)).toEqual(expected)
  })

  it('sends the body and headers it was given', async () => {
    receiver = await startReceiver()
    await post(receiver.url)
    expect(receiver.received[0]).toMatchObject({ body: '{"a":1}', headers: { 'content-type': 'application/json' } })
  })

  it('keeps no more than a short excerpt of a large error body', async () => {
    receiver = await startReceiver([{ status: 500, body: 'x'.repeat(1_000_000) }])
    const result = await post(receiver.url)
    expect(result).toMatchObject({ outcome: 'retry', statusCode: 500 })
    expect((result as { error: string }).error.length).toBeLessThan(250)
  })

  it('gives up waiting after timeoutMs and calls it a retry', async () => {
    receiver = await startReceiver(['hang'])
    const started = Date.now()
    expect(await post(receiver.url, 150)).toEqual({ outcome: 'retry', error: 'timed out after 150 ms' })
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('turns a refused connection into a retry, not an exception', async () => {
    receiver = await startReceiver()
    const url = receiver.url
    await receiver.close()
    receiver = undefined
    expect(await post(url)).toMatchObject({ outcome: 'retry', error: expect.stringContaining('ECONNREFUSED') })
  })
})

describe('deliverWebhook timeout covers the body', () => {
  let stop: () => Promise<void>
  let url: string
  beforeAll(async () => {
    // Headers at once, then one byte every 50 ms forever: a per-read timeout alone would never fire.
    const server = createServer((_req, res) => {
      res.writeHead(500)
      const drip = setInterval(() => res.write('.'), 50)
      res.on('close', () => clearInterval(drip))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    stop = async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    }
  })
  afterAll(() => stop())

  it('returns once timeoutMs has passed even while bytes keep trickling in', async () => {
    const dispatcher = createSafeAgent({ allowPrivate: true })
    const started = Date.now()
    const result = await deliverWebhook({ url, headers: {}, body: '{}', timeoutMs: 300, dispatcher })
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(result).toMatchObject({ outcome: 'retry', statusCode: 500 })
    await dispatcher.close()
  })
})
