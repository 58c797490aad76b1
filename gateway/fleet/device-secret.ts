import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto'
import { promisify } from 'node:util'

const scryptAsync = promisify(scrypt) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>

// Device secrets are 192 random bits, not human passwords: a slow hash buys no safety against
// guessing, while a reconnect storm of 10k devices must not cost minutes of CPU. N=2^10 keeps each
// verification around a millisecond and the stored form stays a salted scrypt hash.
const PARAMS = { N: 1024, r: 8, p: 1 }
const KEY_LEN = 32

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(secret, salt, KEY_LEN, PARAMS)
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !key) return false
  const expected = Buffer.from(key, 'base64url')
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) })
  return timingSafeEqual(actual, expected)
}

/** A fast fingerprint of an already-verified secret, so reconnects skip scrypt. Never stored. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}
