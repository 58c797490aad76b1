import { eq } from 'drizzle-orm'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../gateway/db/database.js'
import { tickets } from '../../gateway/db/schema.js'
import { KPI_DEFINITIONS } from '../../gateway/insight/kpi-definitions.js'
import { KPI_CACHE_MS, registerKpiGauges } from '../../gateway/insight/kpi-gauges.js'
import { computeKpis } from '../../gateway/insight/kpis.js'
import { BACKENDS, openTestDatabase } from '../support/databases.js'
import { DAY, FROM, TO, seedKpiHistory } from './kpi-history.js'

const period = { from: new Date(FROM), to: new Date(TO) }

describe.each(BACKENDS)('KPIs from a seeded history on %s', (backend) => {
  let database: Database
  beforeAll(async () => {
    database = await openTestDatabase(backend)
    await seedKpiHistory(database)
  })
  afterAll(async () => database?.close())

  it('computes the overall figures worked out by hand', async () => {
    const k = await computeKpis(database, period)
    // Opened in [10-01, 11-01): T1 T2 T3 T4 T5 T6 T9 = 7 (T7 opened in September, T8 exactly at `to`).
    // Proactive: T1, T2 (its contact came 2 h after opening), T3, T6, T9 = 5. Not T4 (opened by a
    // contact) nor T5 (a contact recorded at the very instant it opened). Repeats: T5 = 1.
    expect(k.overall.tickets).toEqual({ opened: 7, proactive: 5, proactiveRate: 5 / 7, repeats: 1, repeatRate: 1 / 7 })
    // Contacts in October: C1 known, C2 new complaint, C3 known (C0 was in September).
    expect(k.overall.contacts).toEqual({ total: 3, knownProblem: 2, newComplaint: 1, knownProblemShare: 2 / 3 })
    // Resolved in October and still resolved/closed: T1 T2 T3 T6 T7 (T9 was reopened).
    // Met: T1 (1 d of 5), T3 (2 of 7), T6 (6 of 7); missed: T2 (6 of 5), T7 (12 of 5) → 3/5.
    // service: T1 met, T2 T7 missed → 1/3, levels 0:1 3:2; predicted_failure: T3 T6 met → 2/2, levels 1:1 2:1.
    expect(k.overall.sla).toEqual({
      resolved: 5, met: 3, attainment: 0.6, escalationLevels: { 0: 1, 1: 1, 2: 1, 3: 2 },
      byType: {
        service: { resolved: 3, met: 1, attainment: 1 / 3, escalationLevels: { 0: 1, 3: 2 } },
        predicted_failure: { resolved: 2, met: 2, attainment: 1, escalationLevels: { 1: 1, 2: 1 } },
      },
    })
    // Acknowledged in October: T1 1 h, T2 2 h, T3 4 h, T5 30 min → (3600+7200+14400+1800)/4 = 6750 s (T7's was in September).
    // Dispatched in October: T1 5 h, T3 1 d, T6 1 d → (18000+86400+86400)/3 = 63600 s.
    // Resolved cohort: T1 1 d, T2 6 d, T3 2 d, T6 6 d, T7 12 d → 27 d / 5 = 5.4 d = 466560 s.
    expect(k.overall.responseTimes.acknowledge).toEqual({ tickets: 4, meanSeconds: 6750 })
    expect(k.overall.responseTimes.dispatch).toEqual({ tickets: 3, meanSeconds: 63600 })
    expect(k.overall.responseTimes.resolve.tickets).toBe(5)
    expect(k.overall.responseTimes.resolve.meanSeconds).toBeCloseTo(466560, 6)
    // Predictions resolved in October: T3, T6, both confirmed (replaced, fixed). Warning: 10 d and 3 d → 6.5 d = 561600 s;
    // opened → resolved: 2 d and 6 d → 4 d = 345600 s. T3 was fixed before its predicted failure (D+5 ≤ D+13), T6 not (D+26 > D+23).
    expect(k.overall.leadTime).toEqual({ predicted: 2, confirmed: 2, meanWarningSeconds: 561600, meanOpenToResolveSeconds: 345600, resolvedBeforePredictedFailure: 1 })
    // Rule tickets resolved: fixed T1 T6, replaced T3, no fault T2, declined T7 → (2+1)/(2+1+1) = 0.75.
    expect(k.overall.precision).toEqual({ confirmed: 3, fixed: 2, replaced: 1, noFaultFound: 1, precision: 0.75, customerDeclined: 1, selfCleared: 0 })
    expect(k.groups).toEqual([])
    expect(k.definitions).toBe(KPI_DEFINITIONS)
  })

  it('reports precision and lead time per rule version', async () => {
    const { ruleVersions } = await computeKpis(database, period)
    expect(ruleVersions.map((r) => [r.ruleId, r.ruleVersion, r.precision.confirmed, r.precision.noFaultFound, r.precision.precision, r.leadTime.confirmed])).toEqual([
      ['fridge-temp', 1, 2, 0, 1, 2], // T3 replaced, T6 fixed
      ['washer-drain', 1, 1, 0, 1, 0], // T1 fixed; T7 declined says nothing about the rule
      ['washer-drain', 2, 0, 1, 0, 0], // T2 no fault found
    ])
    expect(ruleVersions[1].precision.customerDeclined).toBe(1)
  })

  it('groups by device type', async () => {
    const { groups, overall } = await computeKpis(database, { ...period, groupBy: 'deviceType' })
    expect(groups.map((g) => g.key)).toEqual(['fridge', 'washer'])
    const [fridge, washer] = groups
    // fridge: T3 T6 opened, both proactive; washer: T1 T2 T4 T5 T9, proactive T1 T2 T9, repeat T5.
    expect(fridge.tickets).toEqual({ opened: 2, proactive: 2, proactiveRate: 1, repeats: 0, repeatRate: 0 })
    expect(washer.tickets).toEqual({ opened: 5, proactive: 3, proactiveRate: 3 / 5, repeats: 1, repeatRate: 1 / 5 })
    // All three October contacts are about washers.
    expect(washer.contacts).toMatchObject({ total: 3, knownProblem: 2 })
    expect(fridge.contacts.total).toBe(0)
    // washer resolved: T1 met, T2 T7 missed; fridge: T3 T6 met.
    expect([washer.sla.attainment, fridge.sla.attainment]).toEqual([1 / 3, 1])
    expect(fridge.leadTime.confirmed).toBe(2)
    expect(overall.tickets.opened).toBe(7) // the overall row is still there
  })

  it('groups by rule, with contact-opened tickets under key null', async () => {
    const { groups } = await computeKpis(database, { ...period, groupBy: 'rule' })
    expect(groups.map((g) => g.key)).toEqual([null, 'fridge-temp', 'washer-drain'])
    const [none, , washer] = groups
    expect(none.tickets).toMatchObject({ opened: 1, proactive: 0 }) // T4
    expect(none.contacts).toMatchObject({ total: 1, newComplaint: 1 }) // C2
    expect(washer.tickets).toMatchObject({ opened: 4, proactive: 3, repeats: 1 }) // T1 T2 T5 T9; not T5
    // washer-drain over both versions: fixed T1, no fault T2 → 1/2.
    expect(washer.precision).toMatchObject({ confirmed: 1, noFaultFound: 1, precision: 0.5, customerDeclined: 1 })
  })

  it('says null, not 0 %, for a period with nothing in it', async () => {
    const k = await computeKpis(database, { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2020-02-01T00:00:00Z'), groupBy: 'problem' })
    expect(k.overall.tickets).toEqual({ opened: 0, proactive: 0, proactiveRate: null, repeats: 0, repeatRate: null })
    expect(k.overall.sla).toMatchObject({ resolved: 0, attainment: null, byType: {} })
    expect(k.overall.precision.precision).toBeNull()
    expect(k.groups).toEqual([])
  })

  it('exposes headline gauges, computed on scrape and cached', async () => {
    let now = Date.parse('2026-11-01T12:00:00Z')
    const registry = new Registry()
    registerKpiGauges(registry, database, () => now)
    const scrape = async () => {
      const values = new Map<string, number>()
      for (const m of await registry.getMetricsAsJSON()) for (const v of m.values) values.set(`${m.name}${JSON.stringify(v.labels)}`, v.value)
      return values
    }
    const first = await scrape()
    // 24 h = [10-31 12:00, 11-01 12:00]: T8 opened, proactive, no repeat; nothing resolved → no SLA series.
    expect(first.get('precall_kpi_proactive_rate{"window":"24h"}')).toBe(1)
    expect(first.get('precall_kpi_repeat_rate{"window":"24h"}')).toBe(0)
    expect(first.has('precall_kpi_sla_attainment{"window":"24h"}')).toBe(false)
    // 30 d = [10-02 12:00, …]: T2 T3 T4 T5 T6 T8 T9 opened (T1 opened at 10-02 00:00), proactive T2 T3 T6 T8 T9 → 5/7;
    // repeat T5 → 1/7; resolved T1 T2 T3 T6 (T7 resolved 10-02 00:00), met T1 T3 T6 → 3/4.
    expect(first.get('precall_kpi_proactive_rate{"window":"30d"}')).toBe(5 / 7)
    expect(first.get('precall_kpi_repeat_rate{"window":"30d"}')).toBe(1 / 7)
    expect(first.get('precall_kpi_sla_attainment{"window":"30d"}')).toBe(0.75)
    // Open now: T4 T8 open, T5 acknowledged, T9 reopened; a status with none still reports 0.
    expect(first.get('precall_tickets_open{"status":"open"}')).toBe(2)
    expect(first.get('precall_tickets_open{"status":"acknowledged"}')).toBe(1)
    expect(first.get('precall_tickets_open{"status":"reopened"}')).toBe(1)
    expect(first.get('precall_tickets_open{"status":"dispatched"}')).toBe(0)
    expect(first.get('precall_kpi_up{}')).toBe(1)

    await database.db.insert(tickets).values({
      id: 'T10', deviceId: 'fr-1', customerId: 'c-kpi', problem: 'door', type: 'service', title: 'T10', severity: 'minor', priority: 3,
      openedAt: new Date(now), detectedAt: new Date(now), lastDetectedAt: new Date(now), slaDueAt: new Date(now + 5 * DAY), evidence: {},
    })
    now += KPI_CACHE_MS - 1
    expect((await scrape()).get('precall_tickets_open{"status":"open"}')).toBe(2) // cached
    now += 1
    expect((await scrape()).get('precall_tickets_open{"status":"open"}')).toBe(3)
    expect((await scrape()).get('precall_kpi_proactive_rate{"window":"24h"}')).toBe(1) // T8 and T10, both proactive
    await database.db.delete(tickets).where(eq(tickets.id, 'T10'))
  })
})
