import { compileRule, isCompiledRule, type CompiledRule, type RuleInput } from "./compile-rule.js";
import { createDeadlineHeap } from "./deadline-heap.js";
import { toClearance, toDetection, type Clearance, type Detection } from "./detection.js";
import {
  createDeviceState,
  insertInOrder,
  noteDevice,
  selectRules,
  wakeTime,
  type DeviceState,
} from "./device-state.js";
import type { Observation } from "./observation.js";
import { catchUpSlot, stepSlot } from "./rule-slot.js";

export type RuleEngineOptions = {
  /**
   * How far behind the newest event time seen for a device an observation may arrive and still
   * be evaluated. Observations are held in a per-device reorder buffer and evaluated in `ts`
   * order once the device's newest event time is `allowedLatenessMs` past them (or a watermark
   * given to `advanceTo` passes them). That is the latency it adds: a detection comes
   * `allowedLatenessMs` of the device's own event time late. 0 (the default) evaluates at once
   * and flags anything older than the newest `ts` as late.
   */
  allowedLatenessMs?: number;
};

/**
 * `late`: the observation was too old to place in order and was not evaluated. `cleared`: rules
 * that stopped holding for the device with this observation (see `Clearance`).
 */
export type EvaluationResult = { readonly detections: readonly Detection[]; readonly late: boolean; readonly cleared: readonly Clearance[] };

// Nearly every observation changes nothing: those share one answer rather than allocating a
// result and two arrays per rule per reading. Not frozen: iterating a frozen array took V8 off its
// fast path and allocated an iterator result per loop instead.
const NONE: readonly never[] = [];
const QUIET: EvaluationResult = { detections: NONE, late: false, cleared: NONE };
const LATE: EvaluationResult = { detections: NONE, late: true, cleared: NONE };

export type RuleEngine = ReturnType<typeof createRuleEngine>;

// What `absorb` takes over from another engine: its devices' state and the rules it runs.
const internals = new WeakMap<object, { devices: Map<string, DeviceState>; rules(): CompiledRule[] }>();

export function createRuleEngine(
  rules: readonly (CompiledRule | RuleInput)[],
  options: RuleEngineOptions = {},
) {
  const allowedLatenessMs = options.allowedLatenessMs ?? 0;
  const devices = new Map<string, DeviceState>();
  const wakeups = createDeadlineHeap<DeviceState>();
  let rulesByType = indexByDeviceType(rules);
  let epoch = 0;
  // Falling edges found while applying observations, handed out by `evaluate` or `takeCleared`.
  let cleared: Clearance[] = [];
  // Rising edges found by one `evaluate`, handed out (and emptied) before it returns.
  const found: Detection[] = [];

  function apply(device: DeviceState, observation: Observation, out: Detection[]): void {
    if (device.epoch !== epoch) selectRules(device, rulesByType.get(device.type) ?? [], epoch);
    // Time passes before the observation lands: a silence that ended with it still happened.
    for (const slot of device.timed) catchUpSlot(slot, observation.ts, device, out, cleared);
    for (const slot of device.slots) {
      const held = slot.holding;
      if (stepSlot(slot, observation)) out.push(toDetection(slot, device, observation.ts));
      else if (held && !slot.holding) cleared.push(toClearance(slot, device, observation.ts));
    }
    device.releasedTs = observation.ts;
  }

  function release(device: DeviceState, upTo: number, out: Detection[]): void {
    while (device.pending.length > 0 && device.pending[0]!.ts <= upTo) {
      apply(device, device.pending.shift()!, out);
    }
  }

  /**
   * `arrivedAt`: when the observation reached the caller on the caller's clock (live: the wall
   * clock). With it, `advanceTo` judges each device's silence in that device's own event time.
   */
  function evaluate(observation: Observation, arrivedAt?: number): EvaluationResult {
    let device = devices.get(observation.deviceId);
    // Too late to apply without rewriting history the windows have already moved past;
    // the caller decides whether to count or store it.
    if (device && (observation.ts < device.maxTs - allowedLatenessMs || observation.ts < device.releasedTs)) {
      return LATE;
    }
    if (!device) {
      device = createDeviceState(observation);
      devices.set(observation.deviceId, device);
    }
    noteDevice(device, observation);
    if (arrivedAt !== undefined && observation.ts >= device.maxTs) device.offset = arrivedAt - observation.ts;
    device.maxTs = Math.max(device.maxTs, observation.ts);
    const releaseUpTo = device.maxTs - allowedLatenessMs;
    if (device.pending.length === 0 && observation.ts <= releaseUpTo) {
      apply(device, observation, found);
    } else {
      insertInOrder(device.pending, observation);
      release(device, releaseUpTo, found);
    }
    wakeups.schedule(device, wakeTime(device) + device.offset);
    if (found.length === 0 && cleared.length === 0) return QUIET;
    return { detections: found.splice(0), late: false, cleared: takeCleared() };
  }

  /**
   * Moves the engine's clock to `watermark` without data: observations buffered for lateness up
   * to it are evaluated, and timed conditions (`absence`) fire at the event time they reached
   * their limit. Live, pass the wall clock minus the transport delay you tolerate; in a backtest
   * or replay, a watermark from the stream (newest `ts` seen minus the lateness). The watermark
   * promises that nothing older will still be evaluated; a device whose observations are delayed
   * beyond it may be reported silent before its data arrives. Costs O(k log n) for k devices due.
   */
  function advanceTo(watermark: number): Detection[] {
    const detections: Detection[] = [];
    for (const device of wakeups.popDue(watermark)) {
      // The watermark is on the caller's clock; each device is advanced in its own event time.
      const own = watermark - device.offset;
      release(device, own, detections);
      if (device.epoch !== epoch) selectRules(device, rulesByType.get(device.type) ?? [], epoch);
      for (const slot of device.timed) catchUpSlot(slot, own, device, detections, cleared);
      wakeups.schedule(device, wakeTime(device) + device.offset);
    }
    return detections;
  }

  function takeCleared(): readonly Clearance[] {
    if (cleared.length === 0) return NONE;
    const out = cleared;
    cleared = [];
    return out;
  }

  function runningRules(): CompiledRule[] {
    return [...rulesByType.values()].flat();
  }

  function setRules(next: readonly (CompiledRule | RuleInput)[]): void {
    rulesByType = indexByDeviceType(next);
    epoch += 1;
    const live = new Set([...rulesByType.values()].flat().map((r) => r.key));
    for (const device of devices.values()) {
      for (const key of device.kept.keys()) {
        if (!live.has(key)) device.kept.delete(key);
      }
      // Chosen now rather than at the next observation, so a new absence rule starts watching a
      // device that never reports again.
      selectRules(device, rulesByType.get(device.type) ?? [], epoch);
      wakeups.schedule(device, wakeTime(device) + device.offset);
    }
  }

  const engine = {
    evaluate,
    advanceTo,
    /** Clearances found by `advanceTo` (evaluate returns its own). */
    takeCleared,
    setRules,
    /**
     * Restarts a device's rule state: all of it, or only the rules behind `problem`. After a
     * repair (a ticket resolved `fixed` or `replaced`, a maintenance event) windows, baselines
     * and latches learn afresh instead of firing on pre-repair history. The device's event time
     * is kept, so nothing older than what it already evaluated is accepted afterwards.
     */
    resetRules(deviceId: string, problem?: string): void {
      const device = devices.get(deviceId);
      if (!device) return;
      for (const [key, slot] of device.kept) {
        if (problem === undefined || slot.compiled.rule.ticket.problem === problem) device.kept.delete(key);
      }
      selectRules(device, rulesByType.get(device.type) ?? [], epoch);
      wakeups.schedule(device, wakeTime(device) + device.offset);
    },
    /** Forget a device, e.g. when it moves to another gateway instance or is deregistered. */
    resetDevice(deviceId: string): void {
      const device = devices.get(deviceId);
      if (device) wakeups.remove(device);
      devices.delete(deviceId);
    },
    /**
     * The device's event time at `arrivedAt` on the caller's clock: its newest `ts` plus the time
     * since it arrived. For messages that carry no time of their own (a bare status word).
     */
    eventTimeAt(deviceId: string, arrivedAt: number): number | undefined {
      const device = devices.get(deviceId);
      return device ? Math.max(device.maxTs, arrivedAt - device.offset) : undefined;
    },
    deviceCount(): number {
      return devices.size;
    },
    /** Whether any rule runs for devices of `deviceType` (disabled rules do not). */
    covers(deviceType: string): boolean {
      return rulesByType.has(deviceType);
    },
    /** The device types some rule runs for. */
    deviceTypes(): string[] {
      return [...rulesByType.keys()];
    },
    /**
     * Takes over `other`'s rules with the state it built for them: a rule version warmed up on an
     * engine of its own (from the stored tail) joins the running set without losing what it
     * learned, and from then on each observation is looked up and clocked once for all rules.
     * Both engines must have seen the same observations: a device's clock and reorder buffer stay
     * this engine's, only the rule slots move. `other` is spent afterwards.
     */
    absorb(other: object): void {
      const theirs = internals.get(other);
      if (!theirs || other === engine) throw new Error("absorb takes another rule engine");
      for (const device of theirs.devices.values()) {
        const mine = devices.get(device.id);
        if (mine) {
          for (const [key, slot] of device.kept) mine.kept.set(key, slot);
        } else {
          // Seen only by the other engine (silent since): its whole state moves, queued here anew.
          device.heapIndex = -1;
          device.heapKey = Number.POSITIVE_INFINITY;
          devices.set(device.id, device);
        }
      }
      const rules = [...runningRules(), ...theirs.rules()];
      theirs.devices.clear();
      setRules(rules);
    },
  };
  internals.set(engine, { devices, rules: runningRules });
  return engine;
}

function indexByDeviceType(
  rules: readonly (CompiledRule | RuleInput)[],
): Map<string, CompiledRule[]> {
  const byType = new Map<string, CompiledRule[]>();
  const seen = new Set<string>();
  for (const input of rules) {
    const compiled = isCompiledRule(input) ? input : compileRule(input);
    // Two documents under one key would share state and make detections depend on list order.
    if (seen.has(compiled.key)) throw new Error(`duplicate rule version ${compiled.key}`);
    seen.add(compiled.key);
    if (compiled.rule.mode === "disabled") continue;
    const forType = byType.get(compiled.rule.deviceType) ?? [];
    forType.push(compiled);
    byType.set(compiled.rule.deviceType, forType);
  }
  return byType;
}
