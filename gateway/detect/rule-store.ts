import { and, desc, eq, inArray, sql } from 'drizzle-orm'
import type { RuleInput } from '../../rules/compile-rule.js'
import { ruleDocumentSchema } from '../../rules/rule-schema.js'
import { validateRule, type RuleProblem } from '../../rules/validate-rule.js'
import type { Database, Tx } from '../db/database.js'
import { deviceTypes, ruleVersions, rules } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import { diffDocuments } from './document-diff.js'

type RuleHead = typeof rules.$inferSelect
type VersionRow = typeof ruleVersions.$inferSelect
export type StoredRule = { id: string; version: number; activeVersion: number | null; shadowVersion: number | null; previousVersion: number | null; document: Record<string, unknown>; createdBy: string | null; createdAt: string }

/**
 * Rules are versioned, immutable documents. Saving adds a version: an `active` or `disabled`
 * document becomes the active version (the one before it is kept for rollback), a `shadow`
 * document runs beside the active one and opens nothing until it is activated.
 */
export function createRuleStore(database: Database) {
  const { db } = database

  async function catalogue() {
    const types = await db.select({ id: deviceTypes.id, metrics: deviceTypes.metrics, eventCodes: deviceTypes.eventCodes }).from(deviceTypes)
    const byId = new Map(types.map((t) => [t.id, t]))
    return {
      metricsOf: (id: string) => (byId.has(id) ? Object.keys(byId.get(id)!.metrics) : undefined),
      eventCodesOf: (id: string) => byId.get(id)?.eventCodes,
    }
  }

  async function validate(doc: unknown): Promise<{ ok: true } | { ok: false; problems: RuleProblem[] }> {
    const result = validateRule(doc, await catalogue())
    return result.ok ? { ok: true } : result
  }

  async function assertValid(doc: unknown) {
    const checked = await validate(doc)
    if (!checked.ok) {
      throw new PrecallError('RULE_INVALID', `rule refused: ${checked.problems.map((p) => `${p.path || '(document)'}: ${p.message}`).join('; ')}`, { problems: checked.problems })
    }
  }

  async function lockHead(tx: Tx, id: string): Promise<RuleHead> {
    const [head] = await tx.select().from(rules).where(eq(rules.id, id)).for('update')
    if (!head) throw new PrecallError('NOT_FOUND', `rule ${id} does not exist`)
    return head
  }

  async function versionRow(tx: Tx | typeof db, id: string, version: number): Promise<VersionRow> {
    const [row] = await tx.select().from(ruleVersions).where(and(eq(ruleVersions.ruleId, id), eq(ruleVersions.version, version)))
    if (!row) throw new PrecallError('NOT_FOUND', `rule ${id} has no version ${version}`)
    return row
  }

  async function save(doc: Record<string, unknown>, createdBy: string | null): Promise<StoredRule> {
    await assertValid(doc)
    const id = String(doc.id)
    return db.transaction(async (tx) => {
      await tx.insert(rules).values({ id }).onConflictDoNothing()
      // Row lock: two concurrent saves of one rule get consecutive versions, not the same one.
      const head = await lockHead(tx, id)
      const [last] = await tx.select({ version: ruleVersions.version }).from(ruleVersions)
        .where(eq(ruleVersions.ruleId, id)).orderBy(desc(ruleVersions.version)).limit(1)
      const version = (last?.version ?? 0) + 1
      const [row] = await tx.insert(ruleVersions).values({ ruleId: id, version, document: doc, createdBy }).returning()
      const next = doc.mode === 'shadow'
        ? { shadowVersion: version }
        : { activeVersion: version, previousVersion: head.activeVersion, shadowVersion: head.shadowVersion }
      const [updated] = await tx.update(rules).set({ ...next, updatedAt: sql`now()` }).where(eq(rules.id, id)).returning()
      return toStored(row, updated)
    })
  }

  /** Makes `version` the active one (promoting a shadow version, or going back to any earlier one). */
  async function activate(id: string, version: number): Promise<StoredRule> {
    return db.transaction(async (tx) => {
      const head = await lockHead(tx, id)
      const row = await versionRow(tx, id, version)
      if (head.activeVersion === version) return toStored(row, head)
      const [updated] = await tx.update(rules).set({
        activeVersion: version, previousVersion: head.activeVersion, shadowVersion: head.shadowVersion === version ? null : head.shadowVersion, updatedAt: sql`now()`,
      }).where(eq(rules.id, id)).returning()
      return toStored(row, updated)
    })
  }

  async function rollback(id: string): Promise<StoredRule> {
    const [head] = await db.select().from(rules).where(eq(rules.id, id))
    if (!head) throw new PrecallError('NOT_FOUND', `rule ${id} does not exist`)
    if (head.previousVersion === null) throw new PrecallError('CONFLICT', `rule ${id} has no earlier active version to roll back to`)
    return activate(id, head.previousVersion)
  }

  async function stopShadow(id: string): Promise<void> {
    await db.transaction(async (tx) => {
      await lockHead(tx, id)
      await tx.update(rules).set({ shadowVersion: null, updatedAt: sql`now()` }).where(eq(rules.id, id))
    })
  }

  async function list(): Promise<StoredRule[]> {
    const heads = await db.select().from(rules).orderBy(rules.id)
    const running = heads.filter((h) => h.activeVersion !== null || h.shadowVersion !== null)
    if (running.length === 0) return []
    const rows = await db.select().from(ruleVersions).where(inArray(ruleVersions.ruleId, running.map((h) => h.id)))
    const byKey = new Map(rows.map((r) => [`${r.ruleId}@${r.version}`, r]))
    return running.map((h) => toStored(byKey.get(`${h.id}@${h.activeVersion ?? h.shadowVersion}`)!, h))
  }

  async function get(id: string) {
    const [head] = await db.select().from(rules).where(eq(rules.id, id))
    if (!head) throw new PrecallError('NOT_FOUND', `rule ${id} does not exist`)
    const versions = await db.select().from(ruleVersions).where(eq(ruleVersions.ruleId, id)).orderBy(desc(ruleVersions.version))
    const shown = versions.find((v) => v.version === (head.activeVersion ?? head.shadowVersion)) ?? versions[0]
    return {
      ...toStored(shown, head),
      versions: versions.map((v) => ({ version: v.version, mode: v.document.mode ?? 'active', createdAt: v.createdAt.toISOString(), createdBy: v.createdBy })),
    }
  }

  async function diff(id: string, from: number, to: number) {
    const [a, b] = await Promise.all([versionRow(db, id, from), versionRow(db, id, to)])
    return { id, from, to, changes: diffDocuments(a.document, b.document) }
  }

  /** What the engine runs: every active version, and every shadow version forced to shadow mode. */
  async function runningRules(): Promise<RuleInput[]> {
    const heads = await db.select().from(rules)
    const wanted = heads.flatMap((h) => [
      ...(h.activeVersion !== null ? [{ id: h.id, version: h.activeVersion, shadow: false }] : []),
      ...(h.shadowVersion !== null && h.shadowVersion !== h.activeVersion ? [{ id: h.id, version: h.shadowVersion, shadow: true }] : []),
    ])
    if (wanted.length === 0) return []
    const rows = await db.select().from(ruleVersions).where(inArray(ruleVersions.ruleId, [...new Set(wanted.map((w) => w.id))]))
    const byKey = new Map(rows.map((r) => [`${r.ruleId}@${r.version}`, r]))
    return wanted.map((w) => {
      const rule = ruleDocumentSchema.parse(byKey.get(`${w.id}@${w.version}`)!.document)
      // The pointer decides how a version runs: a shadow document, once activated, runs active.
      const mode = w.shadow ? 'shadow' as const : rule.mode === 'disabled' ? 'disabled' as const : 'active' as const
      return { rule: { ...rule, mode }, version: w.version }
    })
  }

  return { validate, assertValid, save, activate, rollback, stopShadow, list, get, diff, runningRules }
}

function toStored(row: VersionRow, head: RuleHead): StoredRule {
  return {
    id: row.ruleId, version: row.version, activeVersion: head.activeVersion, shadowVersion: head.shadowVersion, previousVersion: head.previousVersion,
    document: row.document, createdBy: row.createdBy, createdAt: row.createdAt.toISOString(),
  }
}

export type RuleStore = ReturnType<typeof createRuleStore>
