import type { ConditionEvaluator } from "./compile-rule.js";
import type { Evidence } from "./evidence.js";
import type { Observation } from "./observation.js";

export type CompositeState = { members: unknown[]; levels: boolean[]; holds: boolean };

/**
 * `all` / `any` over member conditions, by level rather than by firing:
 *
 * - Every member sees every observation of the device, in event-time order, and reports whether
 *   it holds now. A member's own `for`, `clear`, window and latch are part of that level: a
 *   threshold member with `for: "10m"` holds from the reading that completes the ten minutes
 *   until its latch re-arms (with `clear`, until the clear condition has held for `clear.for`).
 * - A member keeps its level between the observations that bear on it (readings of its metric for
 *   metric kinds; every observation for `count`; every observation and the clock for `absence`),
 *   so metrics reported in separate messages combine.
 * - `all` holds while every member holds, `any` while at least one does. The rule fires when the
 *   composite starts to hold and once per episode: not again until it has stopped holding.
 * - Members that may start to hold as time passes (`absence`) give the composite a deadline.
 */
export function createCompositeEvaluator(
  kind: "all" | "any",
  members: readonly ConditionEvaluator[],
): ConditionEvaluator<CompositeState> {
  const timed = members.some((m) => m.deadline && m.advance);

  function combine(state: CompositeState): boolean {
    let holding = 0;
    for (const level of state.levels) if (level) holding += 1;
    state.holds = kind === "all" ? holding === members.length : holding > 0;
    return state.holds;
  }

  const evaluator: ConditionEvaluator<CompositeState> = {
    initialState(startedAt) {
      return {
        members: members.map((m) => m.initialState(startedAt)),
        levels: members.map(() => false),
        holds: false,
      };
    },

    step(state, observation: Observation): boolean {
      for (let i = 0; i < members.length; i++) {
        state.levels[i] = members[i]!.step(state.members[i], observation);
      }
      return combine(state);
    },

    evidence(state): Evidence {
      return {
        kind,
        of: members.map((m, i) => (state.levels[i] ? m.evidence(state.members[i]) : null)),
      };
    },
  };

  if (!timed) return evaluator;
  return {
    ...evaluator,
    deadline(state): number {
      let earliest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (m.deadline) earliest = Math.min(earliest, m.deadline(state.members[i]));
      }
      return earliest;
    },
    advance(state, at): boolean {
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (m.advance) state.levels[i] = m.advance(state.members[i], at);
      }
      return combine(state);
    },
  };
}
