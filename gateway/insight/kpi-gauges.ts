import { sql, type SQL } from 'drizzle-orm'
import { Gauge, type Registry } from 'prom-client'
import type { Database } from '../db/database.js'
import { OPEN_STATUSES } from '../tickets/lifecycle.js'
import { PROACTIVE, resolvedIn, within, type Period } from './kpi-queries.js'
import { ratio } from './sql-helpers.js'

const WINDOWS = { '24h': 86_400_000, '30d': 30 * 86_400_000 } as const
type Window = keyof typeof WINDOWS
// Prometheus may scrape every few seconds from several servers; the figures move slowly.
export const KPI_CACHE_MS = 15_000

type WindowFigures = { proactiveRate: number | null; repeatRate: number | null; slaAttainment: number | null }
type Snapshot = { windows: Record<Window, WindowFigures>; openByStatus: Record<string, number> }

/**
 * Headline KPIs as gauges, computed when /metrics is scraped (two queries) and cached for
 * KPI_CACHE_MS so a busy scraper costs the database one computation per interval. The definitions
 * are those of GET /api/v1/kpis (same SQL fragments); a ratio with nothing to divide is left out
 * rather than reported as 0. A failing database empties the gauges and sets precall_kpi_up 0
 * instead of failing the whole scrape.
 */
export function registerKpiGauges(registry: Registry, database: Database, now: () => number = Date.now) {
  let cached: { at: number; snapshot: Promise<Snapshot | undefined> } | undefined
  const snapshot = () => {
    const t = now()
    if (!cached || t - cached.at >= KPI_CACHE_MS) cached = { at: t, snapshot: loadSnapshot(database, t).catch(() => undefined) }
    return cached.snapshot
  }
  const registers = [registry]
  const perWindow = (name: string, help: string, pick: (w: WindowFigures) => number | null) => new Gauge({
    name, help, labelNames: ['window'], registers,
    async collect() {
      const s = await snapshot()
      this.reset()
      for (const w of Object.keys(WINDOWS) as Window[]) {
        const value = s && pick(s.windows[w])
        if (value !== undefined && value !== null) this.set({ window: w }, value)
      }
    },
  })
  perWindow('precall_kpi_proactive_rate', 'Share of tickets opened in the window by a detection before any customer contact about them', (w) => w.proactiveRate)
  perWindow('precall_kpi_repeat_rate', 'Share of tickets opened in the window that repeat a recently closed ticket (second call)', (w) => w.repeatRate)
  perWindow('precall_kpi_sla_attainment', 'Share of tickets resolved in the window at or before their SLA due time', (w) => w.slaAttainment)
  new Gauge({
    name: 'precall_tickets_open', help: 'Tickets not yet resolved or closed, by status', labelNames: ['status'], registers,
    async collect() {
      const s = await snapshot()
      this.reset()
      if (!s) return
      for (const status of new Set([...OPEN_STATUSES, ...Object.keys(s.openByStatus)])) this.set({ status }, s.openByStatus[status] ?? 0)
    },
  })
  new Gauge({
    name: 'precall_kpi_up', help: '1 when the KPI gauges could be computed at the last scrape, 0 when the database failed', registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0)
    },
  })
}

async function loadSnapshot(database: Database, t: number): Promise<Snapshot> {
  const periods = Object.fromEntries(Object.entries(WINDOWS).map(([w, ms]) => [w, { from: new Date(t - ms), to: new Date(t + 1) }])) as Record<Window, Period>
  const columns = (w: Window) => {
    const p = periods[w]
    const opened = within(sql`t.opened_at`, p)
    const count = (name: string, where: SQL) => sql`count(*) filter (where ${where})::int as ${sql.raw(`${name}_${w.replace(/\W/g, '')}`)}`
    return [
      count('opened', opened), count('proactive', sql`${opened} and ${PROACTIVE}`), count('repeats', sql`${opened} and t.repeat_of is not null`),
      count('resolved', resolvedIn(p)), count('met', sql`${resolvedIn(p)} and t.resolved_at <= t.sla_due_at`),
    ]
  }
  const oldest = periods['30d']
  const [[counts], open] = await Promise.all([
    database.query<Record<string, number>>(sql`
      select ${sql.join([...columns('24h'), ...columns('30d')], sql`, `)}
      from tickets t
      where ${within(sql`t.opened_at`, oldest)} or ${within(sql`t.resolved_at`, oldest)}`),
    database.query<{ status: string; tickets: number }>(sql`
      select status, count(*)::int as tickets from tickets where status not in ('resolved', 'closed') group by status`),
  ])
  const figures = (w: Window): WindowFigures => {
    const k = (name: string) => counts[`${name}_${w.replace(/\W/g, '')}`] ?? 0
    return { proactiveRate: ratio(k('proactive'), k('opened')), repeatRate: ratio(k('repeats'), k('opened')), slaAttainment: ratio(k('met'), k('resolved')) }
  }
  return {
    windows: { '24h': figures('24h'), '30d': figures('30d') },
    openByStatus: Object.fromEntries(open.map((r) => [r.status, r.tickets])),
  }
}
