import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deliverWebhook } from '../../gateway/outbox/deliver-webhook.js'
import { assertSafeWebhookUrl, createSafeAgent, isPrivateAddress } from '../../gateway/outbox/safe-address.js'

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '100.127.255.255', '0.0.0.0', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::127.0.0.1',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true)
  })

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', 'example.com'])(
    '%s is not private', (ip) => {
      expect(isPrivateAddress(ip)).toBe(false)
    },
  )
})

describe('assertSafeWebhookUrl', () => {
  it.each([
    ['ftp://crm.example.com/hook', 'only http and https'],
    ['https://user:pass@crm.example.com/hook', 'credentials'],
    ['not a url', 'not a valid URL'],
    ['http://127.0.0.1:8080/hook', 'private address 127.0.0.1'],
    ['http://[::1]/hook', 'private address ::1'],
    ['http://[::ffff:192.168.0.10]/hook', 'private address ::ffff:c0a8:a'],
    ['http://2130706433/hook', 'private address 127.0.0.1'], // 127.0.0.1 as one decimal number
    ['http://169.254.169.254/latest/meta-data', 'private address'],
    ['http://localhost:3000/hook', 'localhost'],
    ['http://crm.localhost/hook', 'localhost'],
  ])('refuses %s', (url, reason) => {
    expect(() => assertSafeWebhookUrl(url, false)).toThrow(expect.objectContaining({ code: 'PRECALL_ERR_UNSAFE_URL', message: expect.stringContaining(reason) }))
  })

  it('accepts public URLs, and private ones when allowed', () => {
    expect(assertSafeWebhookUrl('https://crm.example.com/hooks/precall', false).hostname).toBe('crm.example.com')
    expect(assertSafeWebhookUrl('http://127.0.0.1:8080/hook', true).port).toBe('8080')
    expect(() => assertSafeWebhookUrl('https://u:p@127.0.0.1/', true)).toThrow(expect.objectContaining({ code: 'PRECALL_ERR_UNSAFE_URL' }))
  })
})

describe('createSafeAgent', () => {
  const server = createServer((_req, res) => res.end('ok'))
  let port: number
  beforeAll(async () => {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const send = async (url: string, allowPrivate: boolean) => {
    const dispatcher = createSafeAgent({ allowPrivate })
    try {
      return await deliverWebhook({ url, headers: {}, body: '{}', timeoutMs: 2_000, dispatcher })
    } finally {
      await dispatcher.close()
    }
  }

  it('refuses a private literal address at connection time', async () => {
    expect(await send(`http://127.0.0.1:${port}/`, false)).toMatchObject({ outcome: 'give_up', error: expect.stringContaining('127.0.0.1') })
  })

  it('refuses a name that resolves to a private address (the DNS-rebinding case)', async () => {
    expect(await send(`http://localhost:${port}/`, false)).toMatchObject({ outcome: 'give_up', error: expect.stringMatching(/localhost \((127\.0\.0\.1|::1)\)/) })
  })

  it('connects when private addresses are allowed', async () => {
    expect(await send(`http://localhost:${port}/`, true)).toEqual({ outcome: 'delivered', statusCode: 200 })
  })
})
