import { createHmac, randomBytes } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'

/** A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes (the spec allows 24–64). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString('base64')
}

/**
 * The `webhook-signature` header value: one `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per
 * secret, separated by spaces. Several secrets sign at once during rotation so a receiver that
 * still holds the old secret keeps verifying until it switches (Standard Webhooks §Signature).
 */
export function signWebhook(msg: { secrets: string[]; id: string; timestamp: number; body: string }): string {
  const content = `${msg.id}.${msg.timestamp}.${msg.body}`
  return msg.secrets
    .map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content).digest('base64')}`)
    .join(' ')
}

// The key is the base64 part of the secret, decoded; the prefix only says what kind of string it is.
function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64')
}
