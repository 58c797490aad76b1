import { and, asc, gt, gte, or, eq } from 'drizzle-orm'
import type { Logger } from 'pino'
import { createRuleEngine } from '../../rules/engine.js'
import { lookbackMs } from '../../rules/lookback.js'
import type { Detection } from '../../rules/detection.js'
import type { Observation } from '../../rules/observation.js'
import type { RuleInput } from '../../rules/compile-rule.js'
import type { Database } from '../db/database.js'
import { readings } from '../db/schema.js'
import type { DeviceDirectory } from '../fleet/device-directory.js'
import type { CommittedReading } from '../ingest/reading-writer.js'
import type { Metrics } from '../metrics.js'
import type { Customer, DetectionIntake } from '../tickets/detection-intake.js'
import type { RuleStore } from './rule-store.js'

const REBUILD_PAGE = 5000
const MIN_LOOKBACK_MS = 3_600_000

type Stamped = Pick<CommittedReading, 'deviceId' | 'ts' | 'seq' | 'metrics' | 'state' | 'code' | 'detail'> & { kind: string }

export function toObservation(r: Stamped, deviceType: string): Observation {
  const base = { deviceId: r.deviceId, deviceType, ts: r.ts.getTime(), ...(r.seq !== null ? { seq: r.seq } : {}) }
  if (r.kind === 'event') return { ...base, kind: 'event', code: r.code ?? '', ...(r.detail ? { detail: r.detail as Record<string, unknown> } : {}) }
  if (r.kind === 'status') return { kind: 'status', deviceId: r.deviceId, deviceType, ts: base.ts, status: r.state as 'online' | 'offline' | 'powered_off' }
  return { ...base, kind: 'telemetry', metrics: r.metrics ?? {}, ...(r.state ? { state: r.state } : {}) }
}

/**
 * Runs the pure rule engine over committed readings and hands detections to the ticket store,
 * one at a time and in order, so a device's `opened` always precedes its `updated`. Engine state
 * is derived: `rebuild` replays the stored tail after a restart, and the detection log makes the
 * replayed detections that were already handled no-ops.
 */
export function createRuleRunner(opts: {
  database: Database
  directory: DeviceDirectory
  ruleStore: RuleStore
  intake: DetectionIntake
  metrics: Metrics
  log: Logger
  now?: () => number
}) {
  const { directory, intake, metrics, log } = opts
  const now = opts.now ?? Date.now
  const engine = createRuleEngine([])
  let active: RuleInput[] = []
  let pending: Promise<unknown> = Promise.resolve()
  let backlog = 0

  function handle(detection: Detection, customer: Customer) {
    backlog++
    pending = pending
      .then(() => intake.record(detection, customer))
      .catch((err) => log.error({ err, detection }, 'could not record a detection'))
      .finally(() => backlog--)
  }

  function evaluate(r: Stamped) {
    const device = directory.peek(r.deviceId)
    if (!device) return
    const result = engine.evaluate(toObservation(r, device.typeId))
    if (result.late) metrics.readingsLate.inc()
    for (const d of result.detections) handle(d, device)
  }

  async function reload() {
    active = await opts.ruleStore.runningRules()
    engine.setRules(active)
    log.info({ rules: active.length }, 'rules loaded')
  }

  /** Replays the tail of stored readings through the engine, oldest first, page by page. */
  async function rebuild() {
    const lookback = Math.max(MIN_LOOKBACK_MS, ...active.map((r) => lookbackMs(r.rule.when)))
    let cursor = { ts: new Date(now() - lookback), id: 0 }
    let replayed = 0
    for (;;) {
      const page = await opts.database.db.select().from(readings)
        .where(or(gt(readings.ts, cursor.ts), and(eq(readings.ts, cursor.ts), gt(readings.id, cursor.id))))
        .orderBy(asc(readings.ts), asc(readings.id)).limit(REBUILD_PAGE)
      for (const r of page) {
        if (!directory.peek(r.deviceId)) await directory.get(r.deviceId)
        evaluate(r)
      }
      replayed += page.length
      if (page.length < REBUILD_PAGE) break
      const last = page[page.length - 1]
      cursor = { ts: last.ts, id: last.id }
    }
    await idle()
    log.info({ replayed, lookbackMs: lookback }, 'rule state rebuilt from stored readings')
  }

  async function idle() {
    while (backlog > 0) await pending
  }

  return {
    reload,
    rebuild,
    /** Called by the reading writer after each commit, in commit order. */
    onCommitted(batch: CommittedReading[]) {
      for (const r of batch) evaluate(r)
    },
    idle,
  }
}

export type RuleRunner = ReturnType<typeof createRuleRunner>
