import { and, desc, eq, sql } from 'drizzle-orm'
import { ruleDocumentSchema } from '../../rules/rule-schema.js'
import type { RuleInput } from '../../rules/compile-rule.js'
import { validateRule, type RuleProblem } from '../../rules/validate-rule.js'
import type { Database } from '../db/database.js'
import { deviceTypes, ruleVersions, rules } from '../db/schema.js'
import { PrecallError } from '../errors.js'

export type StoredRule = { id: string; version: number; activeVersion: number | null; document: Record<string, unknown>; createdBy: string | null; createdAt: string }

/**
 * Rules are versioned documents: saving a rule adds a version and makes it the active one; old
 * versions stay for audit and rollback. Documents are kept as written (durations as "10m").
 */
export function createRuleStore(database: Database) {
  const { db } = database

  async function validate(doc: unknown): Promise<{ ok: true } | { ok: false; problems: RuleProblem[] }> {
    const types = await db.select({ id: deviceTypes.id, metrics: deviceTypes.metrics }).from(deviceTypes)
    const byId = new Map(types.map((t) => [t.id, Object.keys(t.metrics)]))
    const result = validateRule(doc, { metricsOf: (id) => byId.get(id) })
    return result.ok ? { ok: true } : result
  }

  async function save(doc: Record<string, unknown>, createdBy: string | null): Promise<StoredRule> {
    const checked = await validate(doc)
    if (!checked.ok) {
      throw new PrecallError('RULE_INVALID', `rule refused: ${checked.problems.map((p) => `${p.path || '(document)'}: ${p.message}`).join('; ')}`, { problems: checked.problems })
    }
    const id = String(doc.id)
    return db.transaction(async (tx) => {
      await tx.insert(rules).values({ id }).onConflictDoNothing()
      // Row lock: two concurrent saves of one rule get consecutive versions, not the same one.
      const [current] = await tx.select().from(rules).where(eq(rules.id, id)).for('update')
      const [last] = await tx.select({ version: ruleVersions.version }).from(ruleVersions)
        .where(eq(ruleVersions.ruleId, id)).orderBy(desc(ruleVersions.version)).limit(1)
      const version = (last?.version ?? 0) + 1
      const [row] = await tx.insert(ruleVersions).values({ ruleId: id, version, document: doc, createdBy }).returning()
      await tx.update(rules).set({ activeVersion: version, updatedAt: sql`now()` }).where(eq(rules.id, current.id))
      return toStored(row, version)
    })
  }

  async function list(): Promise<StoredRule[]> {
    const rows = await db.select({ v: ruleVersions, active: rules.activeVersion }).from(rules)
      .innerJoin(ruleVersions, and(eq(ruleVersions.ruleId, rules.id), eq(ruleVersions.version, rules.activeVersion)))
      .orderBy(rules.id)
    return rows.map((r) => toStored(r.v, r.active))
  }

  async function get(id: string): Promise<StoredRule & { versions: { version: number; createdAt: string; createdBy: string | null }[] }> {
    const [head] = await db.select().from(rules).where(eq(rules.id, id))
    if (!head) throw new PrecallError('NOT_FOUND', `rule ${id} does not exist`)
    const versions = await db.select().from(ruleVersions).where(eq(ruleVersions.ruleId, id)).orderBy(desc(ruleVersions.version))
    const active = versions.find((v) => v.version === head.activeVersion) ?? versions[0]
    return {
      ...toStored(active, head.activeVersion),
      versions: versions.map((v) => ({ version: v.version, createdAt: v.createdAt.toISOString(), createdBy: v.createdBy })),
    }
  }

  /** The active version of every rule, parsed for the engine. */
  async function activeRules(): Promise<RuleInput[]> {
    const rows = await list()
    return rows.map((r) => ({ rule: ruleDocumentSchema.parse(r.document), version: r.version }))
  }

  return { validate, save, list, get, activeRules }
}

function toStored(row: typeof ruleVersions.$inferSelect, activeVersion: number | null): StoredRule {
  return { id: row.ruleId, version: row.version, activeVersion, document: row.document, createdBy: row.createdBy, createdAt: row.createdAt.toISOString() }
}

export type RuleStore = ReturnType<typeof createRuleStore>
