import { and, asc, eq, gt, gte, inArray, lt, or } from 'drizzle-orm'
import { z } from 'zod'
import { createRuleEngine } from '../../rules/engine.js'
import type { Detection } from '../../rules/detection.js'
import { ruleDocumentSchema, type RuleDocument } from '../../rules/rule-schema.js'
import type { Database } from '../db/database.js'
import { customers, devices, readings } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import { scoreAgainstOutcomes, type WouldBeTicket } from './backtest-score.js'
import type { RuleStore } from './rule-store.js'
import { toObservation } from './observations.js'

const PAGE = 5000
const MAX_DETECTIONS_SHOWN = 1000

export const backtestInput = z.strictObject({
  rules: z.array(z.record(z.string(), z.unknown())).min(1).max(20),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  deviceIds: z.array(z.string()).min(1).max(10_000).optional(),
}).refine((b) => Date.parse(b.from) < Date.parse(b.to), { message: 'from must be before to', path: ['to'] })

/**
 * Replays stored readings through the same engine the gateway runs, with draft or stored rule
 * documents, and reports what would have happened: detections, the tickets they would have
 * opened after de-duplication, and — where real tickets in that range have outcomes — precision
 * and lead time. Nothing is written.
 */
export function createBacktester(database: Database, ruleStore: RuleStore) {
  const { db } = database

  async function parseRules(docs: Record<string, unknown>[]): Promise<RuleDocument[]> {
    const problems = []
    for (const [i, doc] of docs.entries()) {
      const checked = await ruleStore.validate(doc)
      if (!checked.ok) problems.push(...checked.problems.map((p) => ({ path: `rules[${i}]${p.path ? '.' + p.path : ''}`, message: p.message })))
    }
    if (problems.length) throw new PrecallError('RULE_INVALID', `backtest refused: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems })
    // Drafts run as if active: the point is to see the tickets they would open.
    return docs.map((d) => ({ ...ruleDocumentSchema.parse(d), mode: 'active' as const }))
  }

  async function run(input: z.output<typeof backtestInput>) {
    const rules = await parseRules(input.rules)
    const from = new Date(input.from)
    const to = new Date(input.to)
    const types = [...new Set(rules.map((r) => r.deviceType))]
    const fleet = await db.select({ id: devices.id, typeId: devices.typeId, model: devices.model, firmware: devices.firmware, tags: customers.tags }).from(devices)
      .leftJoin(customers, eq(customers.id, devices.customerId))
      .where(and(inArray(devices.typeId, types), input.deviceIds ? inArray(devices.id, input.deviceIds) : undefined))
    const typeOf = new Map(fleet.map((d) => [d.id, {
      typeId: d.typeId,
      attributes: { ...(d.model ? { model: d.model } : {}), ...(d.firmware ? { firmware: d.firmware } : {}), customerTags: d.tags ?? [] },
    }]))
    // Each document its own version, so two drafts of one rule can be compared in one run.
    const engine = createRuleEngine(rules.map((rule, i) => ({ rule, version: i + 1 })))
    const found: Detection[] = []
    let replayed = 0
    let cursor = { ts: from.getTime(), id: 0 }
    while (typeOf.size > 0) {
      const page = await db.select().from(readings).where(and(
        inArray(readings.deviceId, [...typeOf.keys()]), gte(readings.ts, from.getTime()), lt(readings.ts, to.getTime()),
        or(gt(readings.ts, cursor.ts), and(eq(readings.ts, cursor.ts), gt(readings.id, cursor.id))),
      )).orderBy(asc(readings.ts), asc(readings.id)).limit(PAGE)
      for (const r of page) {
        found.push(...engine.evaluate(toObservation(r, typeOf.get(r.deviceId)!)).detections)
        advance(engine, r.ts, found)
      }
      replayed += page.length
      if (page.length < PAGE) break
      cursor = { ts: page[page.length - 1].ts, id: page[page.length - 1].id }
    }
    advance(engine, to.getTime(), found)
    const wouldBe = deduplicate(found)
    const scored = await scoreAgainstOutcomes(database, wouldBe, from, to)
    const days = (to.getTime() - from.getTime()) / 86_400_000
    return {
      from: input.from, to: input.to, devices: typeOf.size, readingsReplayed: replayed,
      rules: rules.map((r, i) => {
        const mine = scored.filter((t) => t.ruleVersion === i + 1)
        const confirmed = mine.filter((t) => t.verdict === 'confirmed')
        const falseAlarms = mine.filter((t) => t.verdict === 'false_alarm').length
        const leads = confirmed.map((t) => t.leadTimeMs).filter((l): l is number => l !== null).sort((a, b) => a - b)
        return {
          id: r.id, index: i, detections: found.filter((d) => d.ruleVersion === i + 1).length, tickets: mine.length,
          ticketsPerDay: Number((mine.length / days).toFixed(2)), devices: new Set(mine.map((t) => t.deviceId)).size,
          confirmed: confirmed.length, falseAlarms,
          precision: confirmed.length + falseAlarms > 0 ? confirmed.length / (confirmed.length + falseAlarms) : null,
          medianLeadTimeMs: leads.length ? leads[Math.floor((leads.length - 1) / 2)] : null,
        }
      }),
      tickets: scored,
      detections: found.slice(0, MAX_DETECTIONS_SHOWN),
      detectionsTruncated: found.length > MAX_DETECTIONS_SHOWN,
    }
  }

  return { run }
}

// Absence rules need time to pass without data: in a backtest the stream's own event time is the clock.
function advance(engine: ReturnType<typeof createRuleEngine>, watermark: number, into: Detection[]) {
  const withClock = engine as { advanceTo?(ms: number): Detection[] }
  if (withClock.advanceTo) into.push(...withClock.advanceTo(watermark))
}

/** One would-be ticket per (document, device, problem): later detections of the same problem update it. */
function deduplicate(found: Detection[]): WouldBeTicket[] {
  const open = new Map<string, WouldBeTicket>()
  for (const d of found) {
    const key = `${d.ruleVersion}\u0000${d.deviceId}\u0000${d.problem}`
    const t = open.get(key)
    if (t) { t.occurrences++; t.lastDetectedAt = d.detectedAt; continue }
    open.set(key, { ruleId: d.ruleId, ruleVersion: d.ruleVersion, deviceId: d.deviceId, problem: d.problem, detectedAt: d.detectedAt, lastDetectedAt: d.detectedAt, occurrences: 1 })
  }
  return [...open.values()]
}
