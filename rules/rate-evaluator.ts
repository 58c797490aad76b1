import { compareComputed } from "./comparison.js";
import type { ConditionEvaluator } from "./compile-rule.js";
import type { RateCondition } from "./condition-schema.js";
import type { RateEvidence } from "./evidence.js";
import { addPoint, createLineFit, fitEvidence, fitLine, HOUR_MS, type LineFit } from "./line-fit.js";
import type { Observation } from "./observation.js";

export type RateState = { fit: LineFit; holds: boolean };

/**
 * Rate of change as the least-squares slope over `over`, not the difference of the last two
 * readings: one noisy reading moves a two-point difference arbitrarily, a fit barely.
 */
export function createRateEvaluator(condition: RateCondition): ConditionEvaluator<RateState, RateEvidence> {
  return {
    initialState() {
      return { fit: createLineFit(condition.over), holds: false };
    },

    // Judged only on readings of the metric: between them nothing the slope depends on changes.
    step(state, observation: Observation): boolean {
      if (observation.kind !== "telemetry") return state.holds;
      const value = observation.metrics[condition.metric];
      if (typeof value !== "number") return state.holds;
      addPoint(state.fit, observation.ts, value);
      state.holds =
        fitLine(state.fit) &&
        state.fit.points >= condition.minPoints &&
        compareComputed(condition.op, state.fit.slopePerMs * HOUR_MS, condition.value);
      return state.holds;
    },

    evidence({ fit }): RateEvidence {
      return { kind: "rate", ...fitEvidence(condition, fit) };
    },
  };
}
