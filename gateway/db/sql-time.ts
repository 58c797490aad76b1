import { sql } from 'drizzle-orm'

/**
 * An instant as a timestamptz parameter, the same on both drivers. Due times are compared with the
 * caller's clock, never SQL now(): tests move that clock, and several gateway instances agree on
 * what "due" means only as far as their clocks agree.
 */
export const sqlTime = (at: number | Date) => sql`${new Date(at).toISOString()}::timestamptz`
