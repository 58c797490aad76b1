import { is, Param, Placeholder, sql } from 'drizzle-orm'
import type { PgPreparedQuery, PreparedQueryConfig } from 'drizzle-orm/pg-core'
import { keepPrepared, type Db, type Tx } from './database.js'

type Prepared<R> = PgPreparedQuery<PreparedQueryConfig & { execute: R }>
type Session = { client: unknown; constructor: object }

/**
 * A query drizzle builds once, with `sql.placeholder(name)` wherever a value changes, then runs on
 * whichever session it is given: the pool or a transaction. Building a statement's text from its
 * builder is what drizzle spends its time on, and the ticket path rebuilt every statement on every
 * fault. drizzle's own `prepare()` keeps the built statement but ties it to the session that built it, so
 * one made on the pool cannot run inside a transaction (drizzle-team/drizzle-orm#2826). This keeps
 * one built statement per driver and runs it with the given session's client, the only thing that
 * differs between sessions of one driver: its text, parameters and result mapping are drizzle's.
 * (drizzle internals: `_.session.client`, and the prepared query's `client` and, on postgres.js, `queryString`,
 * as of drizzle-orm 0.45.) Its text is fixed, so postgres.js prepares it whatever its parameters
 * (`keepPrepared`).
 */
export function reusableQuery<V extends Record<string, unknown>, R>(build: (db: Db | Tx) => { prepare(name: string): Prepared<R> }) {
  // By session class: a process may hold a PostgreSQL and a PGlite database (the tests do).
  const built = new Map<object, Prepared<R>>()
  return (db: Db | Tx, values: V): Promise<R> => {
    const session = db._.session as unknown as Session
    let template = built.get(session.constructor)
    if (!template) {
      // Named, which postgres.js takes as "prepare on the server": see `preparing` in database.ts.
      template = build(db).prepare('reusable')
      const t = template as unknown as { params: unknown[]; queryString?: string }
      t.params = t.params.map(nullSafe)
      if (t.queryString !== undefined) keepPrepared(t.queryString)
      built.set(session.constructor, template)
    }
    const bound = Object.create(template) as Prepared<R> & { client: unknown }
    bound.client = session.client
    return bound.execute(values)
  }
}

/**
 * `sql.placeholder(name)` typed as the value it stands for, where drizzle's types take only values
 * (an update's `set`); drizzle binds and encodes it by its column like any value.
 */
export const valueOf = <T>(name: string) => sql.placeholder(name) as unknown as T

// drizzle encodes a placeholder's value by its column without the null check it makes for a plain
// value, so a null timestamp threw in `toISOString`: null binds as NULL here, as it does there.
function nullSafe(p: unknown): unknown {
  if (!is(p, Param) || !is(p.value, Placeholder)) return p
  const { encoder } = p
  return new Param(p.value, { mapToDriverValue: (v: unknown) => (v === null ? null : encoder.mapToDriverValue(v)) })
}
