import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { detections } from '../db/schema.js'

export type DetectionFilters = { ruleId?: string; ruleVersion?: number; mode?: 'active' | 'shadow'; deviceId?: string; from?: string; to?: string; limit: number }

/**
 * Every detection the engine made, active or shadow: the evidence service ops tune rules with.
 * Times filter on event time (`detectedAt`), the time the detection is about.
 */
export function createDetectionLog(database: Database) {
  const { db } = database

  function where(f: Omit<DetectionFilters, 'limit'>): SQL | undefined {
    const w: SQL[] = []
    if (f.ruleId) w.push(eq(detections.ruleId, f.ruleId))
    if (f.ruleVersion !== undefined) w.push(eq(detections.ruleVersion, f.ruleVersion))
    if (f.mode) w.push(eq(detections.mode, f.mode))
    if (f.deviceId) w.push(eq(detections.deviceId, f.deviceId))
    if (f.from) w.push(gte(detections.detectedAt, new Date(f.from)))
    if (f.to) w.push(lt(detections.detectedAt, new Date(f.to)))
    return and(...w)
  }

  return {
    async list(f: DetectionFilters) {
      const rows = await db.select().from(detections).where(where(f)).orderBy(desc(detections.detectedAt), desc(detections.id)).limit(f.limit)
      return rows.map((d) => ({ ...d, detectedAt: d.detectedAt.toISOString(), createdAt: d.createdAt.toISOString() }))
    },

    /**
     * Side by side per version of one rule over the same period: how many detections, on how many
     * devices, and how many devices only one version caught — a shadow candidate against the active.
     */
    async compare(ruleId: string, from?: string, to?: string) {
      const rows = await database.query<{ rule_version: number; mode: string; detections: number; devices: number; tickets: number }>(sql`
        select rule_version, mode, count(*)::int as detections, count(distinct device_id)::int as devices, count(distinct ticket_id)::int as tickets
        from detections where ${where({ ruleId, from, to })} group by rule_version, mode order by rule_version`)
      const devices = await database.query<{ device_id: string; versions: number[] }>(sql`
        select device_id, array_agg(distinct rule_version order by rule_version) as versions
        from detections where ${where({ ruleId, from, to })} group by device_id`)
      return {
        ruleId, from: from ?? null, to: to ?? null,
        versions: rows.map((r) => ({
          version: r.rule_version, mode: r.mode, detections: r.detections, devices: r.devices, tickets: r.tickets,
          devicesOnlyThisVersion: devices.filter((d) => d.versions.length === 1 && Number(d.versions[0]) === r.rule_version).length,
        })),
      }
    },
  }
}

export type DetectionLog = ReturnType<typeof createDetectionLog>
