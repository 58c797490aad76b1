import {
  addReading,
  aggregateValue,
  createAggregateWindow,
  holdsAggregate,
  points,
  type AggregateWindow,
} from "./aggregate-window.js";
import type { ConditionEvaluator } from "./compile-rule.js";
import type { AggregateCondition } from "./condition-schema.js";
import type { AggregateEvidence } from "./evidence.js";
import type { Observation } from "./observation.js";

export type AggregateState = {
  window: AggregateWindow;
  /** Event time since which the aggregate has held unbroken, judged at each reading. */
  since: number | undefined;
  lastTs: number;
  holds: boolean;
};

/**
 * A sliding-window aggregate (`avg_over_time` and friends) compared with a value, optionally for
 * a duration. Judged at readings of the metric, like a threshold: `for` is broken by one reading
 * at which the aggregate does not hold, and readings without the metric change nothing.
 */
export function createAggregateEvaluator(
  condition: AggregateCondition,
): ConditionEvaluator<AggregateState, AggregateEvidence> {
  const { fn, over, minPoints } = condition;
  const forMs = condition.for ?? 0;

  return {
    initialState() {
      return { window: createAggregateWindow(fn, over), since: undefined, lastTs: 0, holds: false };
    },

    step(state, observation: Observation): boolean {
      if (observation.kind !== "telemetry") return state.holds;
      const value = observation.metrics[condition.metric];
      if (typeof value !== "number") return state.holds;
      const { ts } = observation;
      addReading(state.window, fn, condition.value, ts, value);
      state.lastTs = ts;
      if (points(state.window) < minPoints || !holdsAggregate(state.window, fn, condition)) {
        state.since = undefined;
        state.holds = false;
        return false;
      }
      state.since ??= ts;
      state.holds = ts - state.since >= forMs;
      return state.holds;
    },

    evidence(state): AggregateEvidence {
      const since = state.since ?? state.lastTs;
      return {
        kind: "aggregate",
        metric: condition.metric,
        fn,
        op: condition.op,
        limit: condition.value,
        value: aggregateValue(state.window, fn),
        estimated: fn === "median" || fn === "p95",
        points: points(state.window),
        overMs: over,
        since,
        heldMs: state.lastTs - since,
      };
    },
  };
}
