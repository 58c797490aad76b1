import { timingSafeEqual } from 'node:crypto'
import { signWebhook } from '../outbox/sign.js'

// Standard Webhooks: a timestamp this far from our clock is refused, so a captured callback can't be replayed later.
const TOLERANCE_MS = 5 * 60_000

/** Whether a provider's callback carries a valid `webhook-signature` for `secret` over this exact body. */
export function verifyProviderSignature(opts: { secret: string; headers: Record<string, string | string[] | undefined>; body: string; now: number }): boolean {
  const header = (name: string) => {
    const v = opts.headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  const id = header('webhook-id')
  const timestamp = Number(header('webhook-timestamp'))
  const signatures = header('webhook-signature')
  if (!id || !signatures || !Number.isInteger(timestamp) || Math.abs(opts.now - timestamp * 1000) > TOLERANCE_MS) return false
  const expected = Buffer.from(signWebhook({ secrets: [opts.secret], id, timestamp, body: opts.body }))
  return signatures.split(' ').some((s) => {
    const given = Buffer.from(s)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
