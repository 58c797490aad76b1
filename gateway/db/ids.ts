import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

/** Time-ordered, prefixed ids (`tkt_01j…`): sortable by creation, unguessable enough for URLs. */
export function newId(prefix: string, now = Date.now()): string {
  let time = ''
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time
  const rand = randomBytes(10)
  let tail = ''
  for (const b of rand) tail += ALPHABET[b % 32]
  return `${prefix}_${time}${tail}`
}

export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}
