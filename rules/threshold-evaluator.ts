import { compare } from "./comparison.js";
import type { ThresholdEvidence } from "./detection.js";
import type { Observation } from "./observation.js";
import type { ThresholdCondition } from "./rule-schema.js";
import type { ConditionEvaluator } from "./compile-rule.js";

/**
 * Per (device, rule) state: a fixed handful of numbers, however many readings arrive, so a
 * million devices cost the same memory after a day as after a minute.
 */
export type ThresholdState = {
  /** Fired for the current episode; waits to be re-armed. */
  latched: boolean;
  /** Event time of the first reading in the current run of holding readings. */
  since: number | undefined;
  readings: number;
  min: number;
  max: number;
  /** Event time since which the clear condition has held unbroken (only while latched). */
  clearSince: number | undefined;
  /** The reading that latched, for evidence asked for later by a composite. */
  firedValue: number;
  firedAt: number;
};

function startRun(state: ThresholdState): void {
  state.since = undefined;
  state.readings = 0;
  state.min = Number.POSITIVE_INFINITY;
  state.max = Number.NEGATIVE_INFINITY;
  state.clearSince = undefined;
}

export function createThresholdEvaluator(
  condition: ThresholdCondition,
): ConditionEvaluator<ThresholdState, ThresholdEvidence> {
  const forMs = condition.for ?? 0;
  const { clear } = condition;

  // Returns true once the latch may re-arm. Without `clear` any reading that breaks the run does;
  // with `clear` the value must get back past a second limit and stay there, so a reading that
  // hovers at the trigger limit cannot open and close the same problem every minute.
  function mayRearm(state: ThresholdState, value: number, ts: number): boolean {
    if (!clear) return !compare(condition.op, value, condition.value);
    if (!compare(clear.op, value, clear.value)) {
      state.clearSince = undefined;
      return false;
    }
    state.clearSince ??= ts;
    return ts - state.clearSince >= (clear.for ?? 0);
  }

  return {
    initialState() {
      const state: ThresholdState = {
        latched: false,
        since: undefined,
        readings: 0,
        min: 0,
        max: 0,
        clearSince: undefined,
        firedValue: 0,
        firedAt: 0,
      };
      startRun(state);
      return state;
    },

    // Holds from the reading that completes `for` until the latch re-arms: with `clear`, that is
    // hysteresis in the level a composite sees, not only in when the rule fires.
    step(state, observation: Observation): boolean {
      if (observation.kind !== "telemetry") return state.latched;
      const value = observation.metrics[condition.metric];
      // Readings that do not carry the metric (another program phase, a partial report) neither
      // extend nor break a run.
      if (typeof value !== "number") return state.latched;
      const { ts } = observation;

      if (state.latched) {
        // The reading that re-arms only closes the episode; the next run starts with the next
        // reading, so a clear limit that overlaps the trigger cannot fire on the same reading.
        if (mayRearm(state, value, ts)) {
          state.latched = false;
          startRun(state);
        }
        return state.latched;
      }

      if (!compare(condition.op, value, condition.value)) {
        startRun(state);
        return false;
      }

      state.since ??= ts;
      state.readings += 1;
      state.min = Math.min(state.min, value);
      state.max = Math.max(state.max, value);
      if (ts - state.since < forMs) return false;

      state.latched = true;
      state.firedValue = value;
      state.firedAt = ts;
      return true;
    },

    evidence(state): ThresholdEvidence {
      const since = state.since ?? state.firedAt;
      return {
        kind: "threshold",
        metric: condition.metric,
        op: condition.op,
        limit: condition.value,
        value: state.firedValue,
        since,
        heldMs: state.firedAt - since,
        readings: state.readings,
        min: state.min,
        max: state.max,
      };
    },
  };
}
