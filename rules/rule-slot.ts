import type { CompiledRule } from "./compile-rule.js";
import { toClearance, toDetection, type Clearance, type Detection } from "./detection.js";
import type { Observation } from "./observation.js";

/** One rule's state for one device, and whether its condition held at the last step. */
export type RuleSlot = {
  compiled: CompiledRule;
  /** Index into `compiled.variants`: the rule as written or a per-customer override. */
  variant: number;
  state: unknown;
  holding: boolean;
};

/** What a detection says about the device it is about. */
export type DetectedDevice = { id: string; type: string };

/**
 * Applies an observation and returns true on the transition to holding: a rule fires once per
 * episode, not on every reading while its condition holds.
 */
export function stepSlot(slot: RuleSlot, observation: Observation): boolean {
  const { evaluator } = slot.compiled.variants[slot.variant]!;
  const holds = evaluator.step(slot.state, observation);
  const rising = holds && !slot.holding;
  slot.holding = holds;
  return rising;
}

/**
 * Moves a timed rule's clock to `target` through each deadline on the way, so a silence fires at
 * the event time it reached `for` however late or often the clock is advanced.
 */
export function catchUpSlot(slot: RuleSlot, target: number, device: DetectedDevice, out: Detection[], cleared?: Clearance[]): void {
  const { evaluator } = slot.compiled.variants[slot.variant]!;
  if (!evaluator.deadline || !evaluator.advance) return;
  let at = evaluator.deadline(slot.state);
  while (at <= target) {
    const holds = evaluator.advance(slot.state, at);
    if (holds && !slot.holding) out.push(toDetection(slot, device, at));
    else if (!holds && slot.holding) cleared?.push(toClearance(slot, device, at));
    slot.holding = holds;
    const next = evaluator.deadline(slot.state);
    // A deadline that does not move forward would spin; the next observation re-judges it.
    if (!(next > at)) return;
    at = next;
  }
}

export function slotDeadline(slot: RuleSlot): number {
  const { evaluator } = slot.compiled.variants[slot.variant]!;
  return evaluator.deadline ? evaluator.deadline(slot.state) : Number.POSITIVE_INFINITY;
}
