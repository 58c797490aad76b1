import { and, asc, gte, inArray, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import { ruleKey, type RuleInput } from '../../rules/compile-rule.js'
import type { Clearance, Detection } from '../../rules/detection.js'
import { createRuleEngine, type EvaluationResult, type RuleEngine } from '../../rules/engine.js'
import type { Observation } from '../../rules/observation.js'
import { lookbackMs } from '../../rules/lookback.js'
import type { Config } from '../config/load-config.js'
import type { Database } from '../db/database.js'
import { tickets } from '../db/schema.js'
import type { DeviceDirectory, DeviceProfile } from '../fleet/device-directory.js'
import type { CommittedReading } from '../ingest/reading-writer.js'
import type { Metrics } from '../metrics.js'
import type { DetectionIntake } from '../tickets/detection-intake.js'
import { createKeyedQueue } from './keyed-queue.js'
import { toObservation, type StoredObservation } from './observations.js'
import type { RuleStore } from './rule-store.js'
import { replayTail } from './tail-replay.js'

const MIN_LOOKBACK_MS = 3_600_000

// One engine per rule version: a new or changed version warms up from the stored tail on its own
// while the others keep their state, and is then swapped in between two commits.
type Running = { key: string; input: RuleInput; engine: RuleEngine }

/**
 * Runs the pure rule engine over committed readings and hands detections and clearances to the
 * ticket side, one at a time and in order, so a device's `opened` always precedes its `updated`.
 * Engine state is derived: a restart or a rule change replays the stored tail, and the detection
 * log makes detections that were already handled no-ops.
 */
export function createRuleRunner(opts: {
  database: Database
  directory: DeviceDirectory
  ruleStore: RuleStore
  intake: DetectionIntake
  metrics: Metrics
  log: Logger
  config: Config['rules']
  now?: () => number
}) {
  const { directory, intake, metrics, log, config } = opts
  const now = opts.now ?? Date.now
  let running = new Map<string, Running>()
  let byType = new Map<string, Running[]>()
  let held: CommittedReading[][] | null = null
  // Ticket changes of one device stay in order (a clearance never overtakes its detection).
  const ticketing = createKeyedQueue({ concurrency: 8, onError: (err) => log.error({ err }, 'could not record a detection or clearance') })
  let reloading: Promise<void> = Promise.resolve()
  let clock: NodeJS.Timeout | undefined

  const detected = (d: Detection, device: DeviceProfile) => ticketing.push(d.deviceId, () => intake.record(d, device))
  const cleared = (c: Clearance) => { if (c.mode === 'active' && c.selfClear) ticketing.push(c.deviceId, () => intake.clear(c)) }

  function dispatch(result: Pick<EvaluationResult, 'detections' | 'cleared'>, device: DeviceProfile) {
    for (const d of result.detections) detected(d, device)
    for (const c of result.cleared) cleared(c)
  }

  function evaluate(r: StoredObservation & { id: number }, among: Running[] | undefined, device: DeviceProfile, arrivedAt: number) {
    if (!among?.length) return
    // A maintenance event means the appliance was serviced: its windows and baselines restart.
    if (r.kind === 'event' && r.code && device.maintenanceCodes.includes(r.code)) for (const run of among) run.engine.resetRules(r.deviceId)
    const observation = toObservation(r, device)
    let late = false
    for (const run of among) {
      const at = placed(observation, r, run.engine, arrivedAt)
      if (!at) continue
      const result = run.engine.evaluate(at, arrivedAt)
      late ||= result.late
      dispatch(result, device)
    }
    if (late) metrics.readingsLate.inc()
  }

  function evaluateLive(batch: CommittedReading[], freshAfterId?: { ids: number; fresh: Set<string> }) {
    for (const r of batch) {
      const device = directory.peek(r.deviceId)
      if (!device) continue
      const among = byType.get(device.typeId)
      evaluate(r, freshAfterId && r.id <= freshAfterId.ids ? among?.filter((x) => !freshAfterId.fresh.has(x.key)) : among, device, now())
    }
  }

  function index(next: Map<string, Running>) {
    running = next
    byType = new Map()
    for (const run of next.values()) byType.set(run.input.rule.deviceType, [...(byType.get(run.input.rule.deviceType) ?? []), run])
  }

  /**
   * Loads the running rule set. Versions not running yet replay the stored tail into their own
   * engine first, while live readings are held; the held readings then go to every engine —
   * except readings the replay already gave the new ones — so none is skipped or seen twice by
   * the same version. On a rule change, detections of episodes that ended within the replayed
   * tail are dropped: a new version does not open tickets for problems that are already over.
   */
  async function load(startUp: boolean) {
    const wanted = await opts.ruleStore.runningRules()
    const next = new Map<string, Running>()
    const fresh: Running[] = []
    for (const input of wanted) {
      const key = ruleKey(input.rule.id, input.version)
      const kept = running.get(key)
      if (kept && JSON.stringify(kept.input) === JSON.stringify(input)) { next.set(key, kept); continue }
      const run = { key, input, engine: createRuleEngine([input], { allowedLatenessMs: config.latenessMs }) }
      next.set(key, run)
      fresh.push(run)
    }
    if (fresh.length === 0) {
      index(next)
      log.info({ rules: next.size }, 'rules loaded')
      return
    }
    held = []
    try {
      const [{ max }] = await opts.database.query<{ max: string | null }>(sql`select max(id)::text as max from readings`)
      const upToId = Number(max ?? 0)
      const lookback = Math.max(MIN_LOOKBACK_MS, ...fresh.map((r) => lookbackMs(r.input.rule.when)))
      const ongoing = new Map<string, { d: Detection; device: DeviceProfile }>()
      const since = new Date(now() - lookback)
      // Repairs are replayed where they happened, so rebuilt state learns from after them again.
      const repairs = await opts.database.db.select({ deviceId: tickets.deviceId, problem: tickets.problem, at: tickets.resolvedAt }).from(tickets)
        .where(and(inArray(tickets.outcome, ['fixed', 'replaced']), gte(tickets.resolvedAt, since))).orderBy(asc(tickets.resolvedAt))
      let nextRepair = 0
      const replayed = await replayTail(opts.database, { since, upToId, deviceTypes: [...new Set(fresh.map((r) => r.input.rule.deviceType))] }, async (r) => {
        for (; nextRepair < repairs.length && repairs[nextRepair].at! <= r.receivedAt; nextRepair++) {
          const { deviceId, problem } = repairs[nextRepair]
          if (deviceId) for (const run of fresh) run.engine.resetRules(deviceId, problem)
        }
        const device = directory.peek(r.deviceId) ?? await directory.get(r.deviceId)
        if (!device) return
        const observation = toObservation(r, device)
        for (const run of fresh) {
          if (run.input.rule.deviceType !== device.typeId) continue
          if (r.kind === 'event' && r.code && device.maintenanceCodes.includes(r.code)) run.engine.resetRules(r.deviceId)
          const at = placed(observation, r, run.engine, r.receivedAt.getTime())
          if (!at) continue
          const result = run.engine.evaluate(at, r.receivedAt.getTime())
          if (startUp) dispatch(result, device)
          else {
            for (const d of result.detections) ongoing.set(`${run.key}\u0000${d.deviceId}`, { d, device })
            for (const c of result.cleared) ongoing.delete(`${run.key}\u0000${c.deviceId}`)
          }
        }
      })
      for (const { deviceId, problem } of repairs.slice(nextRepair)) if (deviceId) for (const run of fresh) run.engine.resetRules(deviceId, problem)
      for (const { d, device } of ongoing.values()) detected(d, device)
      index(next)
      const backlogOfHeld = held
      held = null
      for (const batch of backlogOfHeld) evaluateLive(batch, { ids: upToId, fresh: new Set(fresh.map((r) => r.key)) })
      log.info({ rules: next.size, warmed: fresh.map((r) => r.key), replayed, heldBatches: backlogOfHeld.length }, 'rules loaded')
    } finally {
      if (held) {
        // The replay failed: go on with the previous set rather than lose the held readings.
        const backlogOfHeld = held
        held = null
        for (const batch of backlogOfHeld) evaluateLive(batch)
      }
    }
    if (!startUp) tick()
  }

  /** Moves every engine's clock to the wall clock minus the slack: absence rules need time without data. */
  function tick() {
    const watermark = now() - config.clockSlackMs
    for (const run of running.values()) {
      for (const d of run.engine.advanceTo(watermark)) {
        const device = directory.peek(d.deviceId)
        if (device) detected(d, device)
      }
      for (const c of run.engine.takeCleared()) cleared(c)
    }
  }

  async function idle() {
    await reloading
    await ticketing.idle()
  }

  return {
    /** At start-up: load the rules and replay the tail of stored readings through them. */
    async start() {
      reloading = load(true)
      await reloading
      tick()
      await idle()
    },
    /** After a rule change; concurrent calls run one after another. */
    reload(): Promise<void> {
      reloading = reloading.then(() => load(false), () => load(false))
      return reloading
    },
    startClock() {
      clock = setInterval(tick, config.clockTickMs)
      clock.unref()
    },
    stopClock() {
      clearInterval(clock)
    },
    /** A repair (resolved `fixed` or `replaced`): the rules behind that problem learn afresh. */
    repaired(deviceId: string, problem: string) {
      for (const run of running.values()) run.engine.resetRules(deviceId, problem)
    },
    /** Called by the reading writer after each commit, in commit order. */
    onCommitted(batch: CommittedReading[]) {
      if (held) held.push(batch)
      else evaluateLive(batch)
    },
    idle,
  }
}

export type RuleRunner = ReturnType<typeof createRuleRunner>

/**
 * A status stamped on arrival belongs at the device's own event time, not the gateway's clock.
 * Before the engine knows the device's time there is nothing to place it at: it is skipped, so a
 * bare `online` at connect cannot make the device's back-dated readings look late.
 */
function placed(observation: Observation, r: StoredObservation, engine: RuleEngine, arrivedAt: number): Observation | undefined {
  if (r.kind !== 'status' || !(r.detail as { tsFromArrival?: boolean } | null)?.tsFromArrival) return observation
  const ts = engine.eventTimeAt(r.deviceId, arrivedAt)
  return ts === undefined ? undefined : { ...observation, ts }
}
