import type { CompiledRule } from "./compile-rule.js";
import type { Wakeable } from "./deadline-heap.js";
import type { DeviceInfo, Observation } from "./observation.js";
import { slotDeadline, type RuleSlot } from "./rule-slot.js";
import { chooseVariant, sameDeviceInfo } from "./rule-selection.js";

/** Everything the engine keeps per device. Derived from readings, never precious. */
export type DeviceState = Wakeable & {
  id: string;
  type: string;
  /** Latest model, firmware and customer tags an observation carried. */
  info: DeviceInfo | undefined;
  /** Newest event time that arrived, evaluated or not. */
  maxTs: number;
  /** Event time of the newest observation evaluated; nothing older may be evaluated after it. */
  releasedTs: number;
  /**
   * Wall-clock time minus event time at the device's newest arrival (0 when the caller gives no
   * arrival time, as in a backtest). Lets a live clock judge silence in the device's own event
   * time: a device whose clock runs behind, or a simulated fleet in accelerated time, is silent
   * only once its own time would have moved past the limit.
   */
  offset: number;
  /** Reorder buffer: observations waiting for the device's event time to pass them by the lateness. */
  pending: Observation[];
  /** The rules that apply to this device now, in rule-set order, and those of them that are timed. */
  slots: RuleSlot[];
  timed: RuleSlot[];
  /** Slots by rule key, including rules the device is not selected by at the moment. */
  kept: Map<string, RuleSlot>;
  /** Rule-set generation `slots` were chosen for; -1 after the device's type or info changed. */
  epoch: number;
};

export function createDeviceState(observation: Observation): DeviceState {
  return {
    id: observation.deviceId,
    type: observation.deviceType,
    info: observation.device,
    maxTs: observation.ts,
    releasedTs: Number.NEGATIVE_INFINITY,
    offset: 0,
    pending: [],
    slots: [],
    timed: [],
    kept: new Map(),
    epoch: -1,
    wakeAt: Number.POSITIVE_INFINITY,
    heapIndex: -1,
    heapKey: Number.POSITIVE_INFINITY,
  };
}

/** Takes in what an observation says about its device; rules are re-chosen when that changed. */
export function noteDevice(device: DeviceState, observation: Observation): void {
  if (observation.deviceType !== device.type) {
    device.type = observation.deviceType;
    device.epoch = -1;
  }
  const info = observation.device;
  if (info !== undefined && info !== device.info && !sameDeviceInfo(info, device.info)) {
    device.info = info;
    device.epoch = -1;
  }
}

/**
 * Chooses the rules and override variants that apply to the device. State is kept per rule key,
 * so a rule that stops and starts applying resumes; it restarts only when the device moves to a
 * variant with another limit, whose windows and latches would mean something else.
 */
export function selectRules(device: DeviceState, rules: readonly CompiledRule[], epoch: number): void {
  device.slots = [];
  device.timed = [];
  const startedAt = Number.isFinite(device.releasedTs) ? device.releasedTs : undefined;
  for (const compiled of rules) {
    if (!compiled.selects(device.info)) continue;
    const variant = chooseVariant(compiled.rule.overrides ?? [], device.info?.customerTags);
    const evaluator = compiled.variants[variant]!.evaluator;
    let slot = device.kept.get(compiled.key);
    if (!slot || compiled.variants[slot.variant]?.evaluator !== evaluator) {
      slot = { compiled, variant, state: evaluator.initialState(startedAt), holding: false };
      device.kept.set(compiled.key, slot);
    }
    slot.compiled = compiled;
    slot.variant = variant;
    device.slots.push(slot);
    if (compiled.timed) device.timed.push(slot);
  }
  device.epoch = epoch;
}

/** Queues an observation behind those with an earlier or equal `ts` (ties keep arrival order). */
export function insertInOrder(pending: Observation[], observation: Observation): void {
  let i = pending.length;
  while (i > 0 && pending[i - 1]!.ts > observation.ts) i--;
  pending.splice(i, 0, observation);
}

/** When the engine must next look at the device without being given an observation. */
export function wakeTime(device: DeviceState): number {
  let at = device.pending.length > 0 ? device.pending[0]!.ts : Number.POSITIVE_INFINITY;
  for (const slot of device.timed) at = Math.min(at, slotDeadline(slot));
  return at;
}
