import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import * as schema from './schema.js'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

/** Rows of a raw statement run on `db` or a transaction, whichever driver runs it. */
export async function execute<T = Record<string, unknown>>(db: Db | Tx, q: SQL): Promise<T[]> {
  const result = (await db.execute(q)) as unknown as T[] | { rows: T[] }
  return Array.isArray(result) ? [...result] : result.rows
}

/**
 * PostgreSQL's SQLSTATE for a statement that failed, from either driver: drizzle wraps the
 * driver's error (which carries `code`) as the cause.
 */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null | undefined
  const code = e?.cause?.code ?? e?.code
  return typeof code === 'string' ? code : undefined
}

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

export type Database = {
  db: Db
  kind: 'postgres' | 'pglite'
  /** Rows of a raw query, whichever driver runs it. */
  query<T = Record<string, unknown>>(q: SQL): Promise<T[]>
  /**
   * The same database over connections of its own, at most `connections`, for a hot path that
   * must not wait behind the pool's other users (a burst of tickets, a backtest or KPI query from
   * the API). Its connections show as `precall <name>` in pg_stat_activity. Closed with this one.
   * PGlite has one connection: it is its own lane. It was cheaper for PostgreSQL too while
   * postgres.js handed each query to the connection idle longest (the readings inserts 29–35 µs a
   * reading spread over the pool's 20 backends against 20–21 on a lane of 4); since the pool takes
   * the connection idle the shortest time ("Dependencies we patch"), it costs the same either way
   * (bench/README.md, eleventh session).
   */
  lane(connections: number, name: string): Database
  close(): Promise<void>
}

/**
 * PostgreSQL connections (`DATABASE_POOL_MAX`) for ticket transactions, deliveries, pollers and
 * the API; ingest has a lane of its own beside them (see `lane`). At 10 connections shared with
 * ingest, a burst of tickets kept ingest waiting (PUBACK p99 at 16k/s: 230–280 ms against 60–110 ms
 * at 20; 32 was no better).
 */
export const DEFAULT_POOL_SIZE = 20

/**
 * Opens PostgreSQL when `url` is set, else embedded PGlite under `dataDir` (`memory` for none), and
 * migrates.
 */
export async function openDatabase(opts: { url?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  const database = opts.url ? openPostgres(opts.url, opts.poolSize ?? DEFAULT_POOL_SIZE) : await openPglite(opts.dataDir)
  await database.migrate()
  return database
}

// drizzle sends every query unprepared, which postgres.js runs as two round trips (describe, then
// bind and execute) and PostgreSQL parses and plans each time. Statements of a fixed shape are
// prepared once per connection instead. Ones with many parameters (multi-row VALUES, long IN lists)
// change their text with their size and stay unprepared, which keeps the statement cache small.
// Unprepared, a statement costs its transaction a round trip more; reusable queries (the detection's
// statement has 40 parameters) are fixed in shape and always prepared (see `keepPrepared`).
const MAX_PREPARED_PARAMS = 32

// Statements built once for reuse (see reusableQuery): fixed in shape whatever their parameters.
const fixedShape = new Set<string>()

/** Has postgres.js prepare `query` however many parameters it takes: its text never varies. */
export function keepPrepared(query: string): void {
  fixedShape.add(query)
}

function preparing<T extends postgres.Sql | postgres.TransactionSql>(sql: T): T {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, params: postgres.ParameterOrJSON<never>[] = [], options: postgres.UnsafeQueryOptions = {}) =>
          target.unsafe(query, params, { ...options, prepare: params.length > 0 && (params.length <= MAX_PREPARED_PARAMS || fixedShape.has(query)) })
      }
      // Transactions and savepoints run on a connection of their own: prepare there too.
      if (prop === 'begin' || prop === 'savepoint') {
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: postgres.TransactionSql) => unknown
          return (Reflect.get(target, prop) as (...a: unknown[]) => unknown).apply(target, [...args, (tx: postgres.TransactionSql) => fn(preparing(tx))])
        }
      }
      return Reflect.get(target, prop, receiver)
    },
  })
}

/**
 * What PostgreSQL shows as each connection's `application_name` (pg_stat_activity): `precall`, and
 * `precall <lane>` for a lane's. An `application_name` in DATABASE_URL names them all instead.
 */
export const APPLICATION_NAME = 'precall'

function openPostgres(url: string, max: number, name = APPLICATION_NAME) {
  const lanes: Database[] = []
  const client = preparing(postgres(url, { max, onnotice: () => {}, connection: { application_name: name } }))
  const db = drizzlePostgres({ client, schema, casing: 'snake_case' })
  return {
    db: db as unknown as Db,
    kind: 'postgres' as const,
    query: <T>(q: SQL) => execute<T>(db as unknown as Db, q),
    migrate: () => migratePostgres(db, { migrationsFolder: MIGRATIONS_FOLDER }),
    lane(connections: number, laneName: string): Database {
      const lane = openPostgres(url, connections, `${APPLICATION_NAME} ${laneName}`)
      lanes.push(lane)
      return lane
    },
    async close() {
      await Promise.all(lanes.map((lane) => lane.close()))
      await client.end({ timeout: 5 })
    },
  }
}

async function openPglite(dataDir: string) {
  if (dataDir !== 'memory') mkdirSync(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir === 'memory' ? undefined : dataDir)
  const db = drizzlePglite({ client, schema, casing: 'snake_case' })
  const database = {
    db: db as unknown as Db,
    kind: 'pglite' as const,
    query: <T>(q: SQL) => execute<T>(db as unknown as Db, q),
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER }),
    lane(): Database {
      return database
    },
    close: () => client.close(),
  }
  return database
}
