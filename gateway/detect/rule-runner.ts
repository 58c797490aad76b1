import { and, asc, gte, inArray } from 'drizzle-orm'
import type { Logger } from 'pino'
import { compileRule, ruleKey, type CompiledRule, type RuleInput } from '../../rules/compile-rule.js'
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
import { replayTail, tailEnd } from './tail-replay.js'

const MIN_LOOKBACK_MS = 3_600_000

// A running rule version, compiled once: the engine keeps a rule's state only while it is given
// the same compiled rule.
type Version = { input: RuleInput; compiled: CompiledRule }

/**
 * Runs the pure rule engine over committed readings and hands detections and clearances to the
 * ticket side, one at a time and in order, so a device's `opened` always precedes its `updated`.
 * Engine state is derived: a restart or a rule change replays the stored tail, and the detection
 * log makes detections that were already handled no-ops.
 *
 * One engine runs every rule version, so a reading is looked up, clocked and scheduled once
 * however many rules its device type has (an engine per version did it once per rule: 1.6–1.8
 * against 0.4–0.6 µs a reading with the catalogue's 8 washer rules and 10,000 devices, `npm run
 * bench:rules`). A new or changed version warms up from the stored tail on an engine of its own
 * while the running ones keep their state, and is then absorbed into the running engine between
 * two commits.
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
  const engineOptions = { allowedLatenessMs: config.latenessMs }
  let running = new Map<string, Version>()
  const engine = createRuleEngine([], engineOptions)
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

  /** One reading on `on`; undefined when there is nothing to place it at yet (see `placed`). */
  function evaluate(on: RuleEngine, r: StoredObservation, device: DeviceProfile, arrivedAt: number): EvaluationResult | undefined {
    // A maintenance event means the appliance was serviced: its windows and baselines restart.
    if (r.kind === 'event' && r.code && device.maintenanceCodes.includes(r.code)) on.resetRules(r.deviceId)
    const at = placed(toObservation(r, device), r, on, arrivedAt)
    return at && on.evaluate(at, arrivedAt)
  }

  /**
   * Live readings, in commit order; `warming` also gets those past what its replay covered.
   * Readings of a device type no rule covers skip the engine, which would otherwise keep state
   * for them.
   */
  function evaluateLive(batch: CommittedReading[], warming?: { engine: RuleEngine; afterId: number }) {
    // The whole batch reached the rules now.
    const arrivedAt = now()
    for (const r of batch) {
      const device = directory.peek(r.deviceId)
      if (!device) continue
      if (engine.covers(device.typeId)) {
        const result = evaluate(engine, r, device, arrivedAt)
        if (result?.late) metrics.readingsLate.inc()
        if (result) dispatch(result, device)
      }
      if (warming && r.id > warming.afterId && warming.engine.covers(device.typeId)) {
        const result = evaluate(warming.engine, r, device, arrivedAt)
        if (result) dispatch(result, device)
      }
    }
  }

  /** The running set becomes `next`: versions no longer in it stop, and lose their state. */
  function runOnly(next: Map<string, Version>) {
    running = next
    engine.setRules([...next.values()].map((v) => v.compiled))
  }

  /**
   * Loads the running rule set. Versions not running yet replay the stored tail into an engine of
   * their own first, while live readings are held; the held readings then go to the running
   * engine, and to the new versions only past what the replay gave them, so none is skipped or
   * seen twice by the same version; then the running engine absorbs the new versions. On a rule
   * change, detections of episodes that ended within the replayed tail are dropped: a new version
   * does not open tickets for problems that are already over.
   */
  async function load(startUp: boolean) {
    const wanted = await opts.ruleStore.runningRules()
    const next = new Map<string, Version>()
    const kept = new Map<string, Version>()
    const fresh: Version[] = []
    for (const input of wanted) {
      const key = ruleKey(input.rule.id, input.version)
      const current = running.get(key)
      if (current && JSON.stringify(current.input) === JSON.stringify(input)) {
        next.set(key, current)
        kept.set(key, current)
        continue
      }
      const version = { input, compiled: compileRule(input) }
      next.set(key, version)
      fresh.push(version)
    }
    if (fresh.length === 0) {
      runOnly(next)
      log.info({ rules: next.size }, 'rules loaded')
      return
    }
    held = []
    try {
      const lookback = Math.max(MIN_LOOKBACK_MS, ...fresh.map((v) => lookbackMs(v.input.rule.when)))
      const since = new Date(now() - lookback)
      // The last reading the replay takes; those after it are held.
      const upToId = await tailEnd(opts.database, since)
      const warming = createRuleEngine(fresh.map((v) => v.compiled), engineOptions)
      const ongoing = new Map<string, { d: Detection; device: DeviceProfile }>()
      // Repairs are replayed where they happened, so rebuilt state learns from after them again.
      const repairs = await opts.database.db.select({ deviceId: tickets.deviceId, problem: tickets.problem, at: tickets.resolvedAt }).from(tickets)
        .where(and(inArray(tickets.outcome, ['fixed', 'replaced']), gte(tickets.resolvedAt, since))).orderBy(asc(tickets.resolvedAt))
      let nextRepair = 0
      const replayed = await replayTail(opts.database, { since, upToId, deviceTypes: warming.deviceTypes() }, async (r) => {
        for (; nextRepair < repairs.length && repairs[nextRepair].at! <= r.receivedAt; nextRepair++) {
          const { deviceId, problem } = repairs[nextRepair]
          if (deviceId) warming.resetRules(deviceId, problem)
        }
        const device = directory.peek(r.deviceId) ?? await directory.get(r.deviceId)
        if (!device || !warming.covers(device.typeId)) return
        const result = evaluate(warming, r, device, r.receivedAt.getTime())
        if (!result) return
        if (startUp) return dispatch(result, device)
        for (const d of result.detections) ongoing.set(`${ruleKey(d.ruleId, d.ruleVersion)}\u0000${d.deviceId}`, { d, device })
        for (const c of result.cleared) ongoing.delete(`${ruleKey(c.ruleId, c.ruleVersion)}\u0000${c.deviceId}`)
      })
      for (const { deviceId, problem } of repairs.slice(nextRepair)) if (deviceId) warming.resetRules(deviceId, problem)
      for (const { d, device } of ongoing.values()) detected(d, device)
      runOnly(kept)
      const backlogOfHeld = held
      held = null
      for (const batch of backlogOfHeld) evaluateLive(batch, { engine: warming, afterId: upToId })
      engine.absorb(warming)
      running = next
      log.info({ rules: next.size, warmed: fresh.map((v) => v.compiled.key), replayed, heldBatches: backlogOfHeld.length }, 'rules loaded')
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

  /** Moves the engine's clock to the wall clock minus the slack: absence rules need time without data. */
  function tick() {
    for (const d of engine.advanceTo(now() - config.clockSlackMs)) {
      const device = directory.peek(d.deviceId)
      if (device) detected(d, device)
    }
    for (const c of engine.takeCleared()) cleared(c)
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
      engine.resetRules(deviceId, problem)
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
