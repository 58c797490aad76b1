import { ApiError, type GatewayApi } from './gateway-api.js'
import { readCatalogue, type Catalogue } from './read-catalogue.js'

export type CatalogueAction = 'created' | 'unchanged' | 'kept' | 'replaced' | 'refused'
export type CatalogueReport = {
  deviceTypes: { id: string; action: CatalogueAction }[]
  rules: { id: string; action: CatalogueAction; problems?: { path: string; message: string }[] }[]
}

/**
 * Puts the default catalogue into a gateway through its API. Idempotent: what is already there
 * unchanged is left alone (no new rule version). What ops have since edited through the API is
 * kept unless `overwrite` is set, so re-running never undoes their tuning. A rule the gateway's
 * validator refuses (a condition kind it does not speak yet) is reported, not fatal.
 */
export async function loadCatalogue(api: GatewayApi, opts: { catalogue?: Catalogue; overwrite?: boolean } = {}): Promise<CatalogueReport> {
  const catalogue = opts.catalogue ?? readCatalogue()
  const report: CatalogueReport = { deviceTypes: [], rules: [] }

  for (const type of catalogue.deviceTypes) {
    const existing = await api.request('GET', `/device-types/${encodeURIComponent(type.id)}`)
    const same = existing.status === 200 && canonical(pick(existing.body, ['id', 'name', 'metrics', 'eventCodes'])) === canonical(type)
    if (same) { report.deviceTypes.push({ id: type.id, action: 'unchanged' }); continue }
    if (existing.status === 200 && !opts.overwrite) { report.deviceTypes.push({ id: type.id, action: 'kept' }); continue }
    await api.call('POST', '/device-types', type)
    report.deviceTypes.push({ id: type.id, action: existing.status === 200 ? 'replaced' : 'created' })
  }

  for (const rule of catalogue.rules) {
    const existing = await api.request<{ document?: unknown }>('GET', `/rules/${encodeURIComponent(rule.id)}`)
    if (existing.status === 200 && canonical(existing.body.document) === canonical(rule)) {
      report.rules.push({ id: rule.id, action: 'unchanged' })
      continue
    }
    if (existing.status === 200 && !opts.overwrite) { report.rules.push({ id: rule.id, action: 'kept' }); continue }
    try {
      await api.call('POST', '/rules', rule)
      report.rules.push({ id: rule.id, action: existing.status === 200 ? 'replaced' : 'created' })
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 422) throw err
      const problems = (err.body as { problems?: { path: string; message: string }[] })?.problems ?? [{ path: '', message: err.message }]
      report.rules.push({ id: rule.id, action: 'refused', problems })
    }
  }
  return report
}

export function formatCatalogueReport(report: CatalogueReport): string {
  const lines: string[] = []
  const tally = (rows: { action: CatalogueAction }[]) =>
    Object.entries(rows.reduce<Record<string, number>>((m, r) => ({ ...m, [r.action]: (m[r.action] ?? 0) + 1 }), {})).map(([a, n]) => `${n} ${a}`).join(', ')
  lines.push(`device types: ${tally(report.deviceTypes)}`)
  lines.push(`rules: ${tally(report.rules)}`)
  for (const r of report.rules.filter((r) => r.action === 'refused')) {
    lines.push(`  refused ${r.id}: ${(r.problems ?? []).map((p) => `${p.path ? `${p.path}: ` : ''}${p.message}`).join('; ')}`)
  }
  for (const r of [...report.deviceTypes, ...report.rules].filter((r) => r.action === 'kept')) {
    lines.push(`  kept ${r.id} as edited through the API (use --overwrite to restore the catalogue version)`)
  }
  return lines.join('\n')
}

function pick(o: unknown, keys: string[]): Record<string, unknown> {
  const src = (o ?? {}) as Record<string, unknown>
  return Object.fromEntries(keys.filter((k) => k in src).map((k) => [k, src[k]]))
}

/** JSON with sorted keys, so documents compare by content rather than key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
    : v))
}
