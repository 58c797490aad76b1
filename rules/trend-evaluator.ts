import { compare } from "./comparison.js";
import type { ConditionEvaluator } from "./compile-rule.js";
import type { TrendCondition } from "./condition-schema.js";
import type { TrendEvidence } from "./evidence.js";
import { addPoint, createLineFit, fitEvidence, fitLine, fittedValueAt, type LineFit } from "./line-fit.js";
import type { Observation } from "./observation.js";

export type TrendState = {
  fit: LineFit;
  holds: boolean;
  /** What the line predicted at the reading last judged. */
  predictedAt: number;
  fittedValue: number;
};

/**
 * Predicts when the metric reaches its limit from a least-squares line over `over`, and holds
 * while that moment is no more than `within` after the newest reading. A line already past the
 * limit predicts "now". A line heading away from the limit, one with too few points, or one that
 * explains too little of the variation (r² below `minR2`) predicts nothing.
 */
export function createTrendEvaluator(
  condition: TrendCondition,
): ConditionEvaluator<TrendState, TrendEvidence> {
  const rising = condition.op === ">" || condition.op === ">=";

  function predict(state: TrendState, now: number): number {
    const { fit } = state;
    if (!fitLine(fit) || fit.points < condition.minPoints || fit.r2 < condition.minR2) {
      return Number.POSITIVE_INFINITY;
    }
    state.fittedValue = fittedValueAt(fit, now);
    if (compare(condition.op, state.fittedValue, condition.value)) return now;
    const slope = fit.slopePerMs;
    if (rising ? !(slope > 0) : !(slope < 0)) return Number.POSITIVE_INFINITY;
    // Whole milliseconds: the date goes on a ticket and into CRMs, sub-ms digits are noise.
    return Math.round(now + (condition.value - state.fittedValue) / slope);
  }

  return {
    initialState() {
      const fit = createLineFit(condition.over);
      return { fit, holds: false, predictedAt: Number.POSITIVE_INFINITY, fittedValue: 0 };
    },

    // The horizon is judged at readings only: without new data the line has nothing new to say,
    // and a prediction made days ago should not ripen into a ticket by itself.
    step(state, observation: Observation): boolean {
      if (observation.kind !== "telemetry") return state.holds;
      const value = observation.metrics[condition.metric];
      if (typeof value !== "number") return state.holds;
      const now = observation.ts;
      addPoint(state.fit, now, value);
      state.predictedAt = predict(state, now);
      state.holds = state.predictedAt - now <= condition.within;
      return state.holds;
    },

    evidence(state): TrendEvidence {
      return {
        kind: "trend",
        ...fitEvidence(condition, state.fit),
        predictedFailureAt: state.predictedAt,
        fittedValue: state.fittedValue,
        withinMs: condition.within,
      };
    },
  };
}
