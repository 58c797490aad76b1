import { zeros } from "./bucket-ring.js";
import type { ConditionEvaluator } from "./compile-rule.js";
import type { CountCondition } from "./condition-schema.js";
import type { CountEvidence } from "./evidence.js";
import type { Observation } from "./observation.js";

/**
 * Only the newest `atLeast` matching events matter: there are at least N events within the
 * window exactly when the N-th newest is inside it. A ring of N event times therefore answers the
 * question in O(1) per observation, whatever the event rate, and never grows.
 */
export type CountState = {
  /** Event times of the newest matching events, oldest overwritten first. */
  times: number[] | undefined;
  next: number;
  seen: number;
  lastCode: string;
  holds: boolean;
};

export function createCountEvaluator(
  condition: CountCondition,
): ConditionEvaluator<CountState, CountEvidence> {
  const codes = new Set(condition.codes);
  const { atLeast, within } = condition;

  // The N-th newest matching event, which is the oldest one in the ring once it is full.
  const nthNewest = (state: CountState) => state.times![state.next]!;

  return {
    initialState() {
      return { times: undefined, next: 0, seen: 0, lastCode: "", holds: false };
    },

    // Every observation of the device moves the window, not only events: a burst of errors an
    // hour ago should stop counting when telemetry shows the hour has passed.
    step(state, observation: Observation): boolean {
      if (observation.kind === "event" && codes.has(observation.code)) {
        state.times ??= zeros(atLeast);
        state.times[state.next] = observation.ts;
        state.next = (state.next + 1) % atLeast;
        state.seen = Math.min(state.seen + 1, atLeast);
        state.lastCode = observation.code;
      }
      // Inclusive, like `for`: N events spanning exactly `within` count.
      state.holds = state.seen === atLeast && observation.ts - nthNewest(state) <= within;
      return state.holds;
    },

    // Falling needs no data: once the N-th newest event leaves the window the episode is over, and
    // a burst after a quiet spell is a new one even if no observation came in between. Event
    // times are whole milliseconds, so 1 ms past the window's edge is the first instant it fails.
    deadline(state): number {
      return state.holds ? nthNewest(state) + within + 1 : Number.POSITIVE_INFINITY;
    },

    advance(state, at): boolean {
      state.holds = state.seen === atLeast && at - nthNewest(state) <= within;
      return state.holds;
    },

    evidence(state): CountEvidence {
      const newest = state.times![(state.next + atLeast - 1) % atLeast]!;
      return {
        kind: "count",
        codes: condition.codes,
        atLeast,
        withinMs: within,
        first: nthNewest(state),
        last: newest,
        lastCode: state.lastCode,
      };
    },
  };
}
