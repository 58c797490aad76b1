import type { ConditionEvaluator } from "./compile-rule.js";
import type { AbsenceCondition } from "./condition-schema.js";
import type { AbsenceEvidence } from "./evidence.js";
import type { Observation } from "./observation.js";

export type AbsenceState = {
  /** Start of the current silence: the last telemetry, or when watching began. */
  since: number | undefined;
  /** Newest event time seen or advanced to. */
  now: number;
  poweredOff: boolean;
  lastStatus: string | null;
  holds: boolean;
};

/**
 * Holds once no telemetry has arrived for `for`. Silence is judged against a clock that moves
 * without data (`advance`, driven by the engine's watermark), so a device that simply stops
 * reporting is noticed; the engine also advances the clock to each observation's `ts` before
 * applying it, so a replay without watermarks finds the same silences at the same event times.
 *
 * With `ignoreWhenPoweredOff`, a `powered_off` status (unplugged on purpose, per the contract)
 * stops the clock until the device publishes telemetry or says `online` again. The last will's
 * `offline` that may follow does not undo it: pulling the plug drops the connection uncleanly.
 */
export function createAbsenceEvaluator(
  condition: AbsenceCondition,
): ConditionEvaluator<AbsenceState, AbsenceEvidence> {
  const forMs = condition.for;
  const ignoring = (state: AbsenceState) => condition.ignoreWhenPoweredOff && state.poweredOff;

  function judge(state: AbsenceState, at: number): boolean {
    state.now = Math.max(state.now, at);
    state.holds = !ignoring(state) && state.since !== undefined && at - state.since >= forMs;
    return state.holds;
  }

  return {
    // The device's event time when this rule started watching it, so a rule loaded later still
    // notices a device that has been silent since.
    initialState(startedAt) {
      const since = startedAt !== undefined && Number.isFinite(startedAt) ? startedAt : undefined;
      return { since, now: since ?? 0, poweredOff: false, lastStatus: null, holds: false };
    },

    step(state, observation: Observation): boolean {
      const { ts } = observation;
      state.since ??= ts;
      if (observation.kind === "telemetry") {
        state.since = Math.max(state.since, ts);
        state.poweredOff = false;
      } else if (observation.kind === "status") {
        state.lastStatus = observation.status;
        if (observation.status === "powered_off") state.poweredOff = true;
        else if (observation.status === "online" && state.poweredOff) {
          // Back from a deliberate power-off: the silence starts now, not at the last reading.
          state.poweredOff = false;
          if (condition.ignoreWhenPoweredOff) state.since = Math.max(state.since, ts);
        }
      }
      return judge(state, ts);
    },

    deadline(state): number {
      if (state.holds || state.since === undefined || ignoring(state)) return Number.POSITIVE_INFINITY;
      return state.since + forMs;
    },

    advance(state, at): boolean {
      return judge(state, at);
    },

    evidence(state): AbsenceEvidence {
      const since = state.since ?? state.now;
      return {
        kind: "absence",
        lastSeenAt: since,
        forMs,
        silentMs: state.now - since,
        lastStatus: state.lastStatus,
      };
    },
  };
}
