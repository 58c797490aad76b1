import { createHash, randomBytes } from 'node:crypto'
import { and, desc, eq, isNull } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { newId } from '../db/ids.js'
import { apiTokens } from '../db/schema.js'
import { PrecallError } from '../errors.js'

/** `app`: the manufacturer's app back-end, which logs in to the embedded broker for customers' notifications (mqtt-logins.ts) and may use no HTTP route. */
export const ROLES = ['admin', 'ops', 'crm', 'viewer', 'app'] as const
export type Role = (typeof ROLES)[number]
export type Principal = { tokenId: string; name: string; role: Role }

const ENV_ADMIN_ID = 'tok_admin_env'
// Tokens are 256 random bits: a plain SHA-256 is a sufficient, fast-to-check hash for them.
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')
const mintToken = () => `pc_${randomBytes(32).toString('base64url')}`

export function createTokenStore(database: Database) {
  const { db } = database
  const cache = new Map<string, { principal: Principal | undefined; until: number }>()
  // Bounded staleness for revocations made by another gateway instance.
  const CACHE_MS = 5_000

  return {
    /** The bootstrap admin: ADMIN_TOKEN when given, else one generated on first start and shown once. */
    async ensureAdminToken(configured: string | undefined): Promise<{ generated?: string }> {
      if (configured) {
        await db.insert(apiTokens).values({ id: ENV_ADMIN_ID, name: 'ADMIN_TOKEN', role: 'admin', tokenHash: hashToken(configured) })
          .onConflictDoUpdate({ target: apiTokens.id, set: { tokenHash: hashToken(configured), revokedAt: null } })
        return {}
      }
      const [existing] = await db.select({ id: apiTokens.id }).from(apiTokens)
        .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.revokedAt))).limit(1)
      if (existing) return {}
      const token = mintToken()
      await db.insert(apiTokens).values({ id: newId('tok'), name: 'bootstrap admin', role: 'admin', tokenHash: hashToken(token) })
      return { generated: token }
    },

    async authenticate(token: string, now = Date.now()): Promise<Principal | undefined> {
      const hash = hashToken(token)
      const hit = cache.get(hash)
      if (hit && hit.until > now) return hit.principal
      const [row] = await db.select().from(apiTokens).where(and(eq(apiTokens.tokenHash, hash), isNull(apiTokens.revokedAt)))
      const principal = row ? { tokenId: row.id, name: row.name, role: row.role as Role } : undefined
      if (cache.size > 10_000) cache.clear()
      cache.set(hash, { principal, until: now + CACHE_MS })
      return principal
    },

    async issue(input: { name: string; role: Role }) {
      const token = mintToken()
      const [row] = await db.insert(apiTokens).values({ id: newId('tok'), name: input.name, role: input.role, tokenHash: hashToken(token) }).returning()
      return { id: row.id, name: row.name, role: row.role, createdAt: row.createdAt, token }
    },

    list: () => db.select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role, createdAt: apiTokens.createdAt, revokedAt: apiTokens.revokedAt })
      .from(apiTokens).orderBy(desc(apiTokens.createdAt)),

    async revoke(id: string) {
      const [row] = await db.update(apiTokens).set({ revokedAt: new Date() }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).returning()
      if (!row) throw new PrecallError('NOT_FOUND', `active token ${id} does not exist`)
      cache.delete(row.tokenHash)
    },
  }
}

export type TokenStore = ReturnType<typeof createTokenStore>
