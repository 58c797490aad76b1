import { sql, type SQL } from 'drizzle-orm'

// Raw rows differ by driver: postgres.js (under drizzle) hands timestamps back as strings, PGlite as
// Dates, and int8 as strings on one and numbers on the other. Raw insight queries therefore return
// times as epoch ms (float8) and counts as int, which both drivers give back as plain numbers.

/** A timestamp column or expression as epoch milliseconds, or null. */
export const epochMs = (expr: SQL) => sql`(extract(epoch from ${expr}) * 1000)::float8`

export { sqlTime as at } from '../db/sql-time.js'

export const toIso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** A share, or null when there is nothing to divide: "no tickets" is not "0 %". */
export const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null)
