import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP, isIPv4 } from 'node:net'
import { Agent, buildConnector } from 'undici'
import { PrecallError } from '../errors.js'

// Where a webhook must never reach unless an operator allows it: the gateway's own host, its
// private network and the cloud metadata service (169.254.169.254) — the classic SSRF targets.
const PRIVATE = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6')
}

/** Whether an IP address (v4 or v6, IPv4-mapped included) is loopback, private, link-local or otherwise internal. */
export function isPrivateAddress(ip: string): boolean {
  if (isIPv4(ip)) return PRIVATE.check(ip, 'ipv4')
  if (isIP(ip) !== 6) return false
  const embedded = embeddedIpv4(ip)
  return embedded ? PRIVATE.check(embedded, 'ipv4') : PRIVATE.check(ip, 'ipv6')
}

/**
 * Refuses, with PrecallError('UNSAFE_URL'), a webhook URL that is not plain http(s), carries
 * credentials (they would leak into logs and the API) or names a private address. A host name is
 * checked again at every connection, after DNS, by `createSafeAgent`.
 */
export function assertSafeWebhookUrl(url: string, allowPrivate: boolean): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new PrecallError('UNSAFE_URL', 'not a valid URL')
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new PrecallError('UNSAFE_URL', 'only http and https URLs are allowed')
  if (parsed.username || parsed.password) throw new PrecallError('UNSAFE_URL', 'credentials in the URL are not allowed')
  if (!allowPrivate) {
    const host = unbracket(parsed.hostname)
    if (isPrivateAddress(host)) throw new PrecallError('UNSAFE_URL', `private address ${host} is not allowed`)
    if (host === 'localhost' || host.endsWith('.localhost')) throw new PrecallError('UNSAFE_URL', 'localhost is not allowed')
  }
  return parsed
}

/**
 * An undici Agent that refuses to connect to a private address, checked on the address actually
 * dialled: a public name that resolves (or later re-resolves — DNS rebinding) to 10.0.0.5 is refused.
 */
export function createSafeAgent(opts: { allowPrivate: boolean; connectTimeoutMs?: number }): Agent {
  const timeout = opts.connectTimeoutMs ?? 10_000
  if (opts.allowPrivate) return new Agent({ connect: { timeout } })
  const connect = buildConnector({ timeout, lookup: safeLookup })
  return new Agent({
    // A literal IP skips DNS entirely, so the lookup hook never sees it: check it here.
    connect: (options, callback) => {
      if (isPrivateAddress(options.hostname)) return callback(unsafe(options.hostname), null)
      connect(options, callback)
    },
  })
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

// Node calls `lookup` with `all: true` when it races IPv4 and IPv6 (autoSelectFamily), else wants one address.
function safeLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, [])
    const refused = addresses.find((a) => isPrivateAddress(a.address))
    if (refused) return callback(unsafe(`${hostname} (${refused.address})`), [])
    if ((options as { all?: boolean }).all) return callback(null, addresses)
    const first = addresses[0]
    callback(null, first.address, first.family)
  })
}

function unsafe(what: string): NodeJS.ErrnoException {
  return new PrecallError('UNSAFE_URL', `refusing to connect to private address ${what}`) as NodeJS.ErrnoException
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

// IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach the IPv4 host.
function embeddedIpv4(ip: string): string | undefined {
  const words = expandIpv6(ip)
  if (!words || words.slice(0, 5).some((w) => w !== 0) || (words[5] !== 0xffff && words[5] !== 0)) return undefined
  if (words[5] === 0 && words[6] === 0) return undefined // :: and ::1 are IPv6's own
  return [words[6] >> 8, words[6] & 255, words[7] >> 8, words[7] & 255].join('.')
}

function expandIpv6(ip: string): number[] | undefined {
  let text = ip.split('%')[0]
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number)
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::')
  const parse = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : [])
  const left = parse(head)
  const right = parse(tail)
  const words = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
  return words.length === 8 && words.every((w) => w >= 0 && w <= 0xffff) ? words : undefined
}
