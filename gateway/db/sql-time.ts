import { sql } from 'drizzle-orm'

/** An instant as the text both drivers bind the same way, cast to timestamptz in SQL. */
export const isoTime = (at: number | Date) => new Date(at).toISOString()

/**
 * An instant as a timestamptz parameter, the same on both drivers. Due times are compared with the
 * caller's clock, never SQL now(): tests move that clock, and several gateway instances agree on
 * what "due" means only as far as their clocks agree.
 */
export const sqlTime = (at: number | Date) => sql`${isoTime(at)}::timestamptz`

/** `sqlTime` in a statement built once (see reusableQuery): placeholder `name`, bound to `isoTime(at)`. */
export const sqlTimeOf = (name: string) => sql`${sql.placeholder(name)}::timestamptz`
