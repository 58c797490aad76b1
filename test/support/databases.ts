import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { openDatabase, type Database } from '../../gateway/db/database.js'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh, empty PostgreSQL database for one test file, so files can run in parallel. */
export async function createTestDatabaseUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `precall_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end()
    },
  }
}

export const BACKENDS = ['pglite', 'postgres'] as const
export type Backend = (typeof BACKENDS)[number]

/** Opens a migrated database of the given kind (`poolSize`: PostgreSQL's); `close` also drops a PostgreSQL test database. */
export async function openTestDatabase(backend: Backend, opts: { poolSize?: number } = {}): Promise<Database & { url?: string }> {
  if (backend === 'pglite') return openDatabase({ dataDir: 'memory' })
  const { url, drop } = await createTestDatabaseUrl()
  const database = await openDatabase({ url, dataDir: 'memory', poolSize: opts.poolSize })
  return { ...database, url, close: async () => { await database.close(); await drop() } }
}
