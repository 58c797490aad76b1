import { describe, expect, it } from "vitest";
import { createCountEvaluator } from "../../rules/count-evaluator.js";
import { countConditionSchema } from "../../rules/condition-schema.js";
import type { Observation } from "../../rules/observation.js";
import { at, event, minutesOf, reading, run, washerRuleWith } from "./fixtures.js";

const countRule = (within = "10m", atLeast = 3, codes = ["E21", "E22"]) =>
  washerRuleWith({ kind: "count", codes, atLeast, within });

// Times are minutes after T0; `expected` lists the minutes at which the rule fires.
const cases: { name: string; within?: string; atLeast?: number; observations: Observation[]; expected: number[] }[] = [
  {
    name: "fires on the event that makes N within the window",
    observations: [event(0, "E21"), event(4, "E21"), event(8, "E21"), event(9, "E21")],
    expected: [8],
  },
  {
    name: "N events spanning exactly `within` count",
    observations: [event(0, "E21"), event(5, "E22"), event(10, "E21")],
    expected: [10],
  },
  {
    name: "N events spanning just over `within` do not",
    observations: [event(0, "E21"), event(5, "E21"), event(10.001, "E21")],
    expected: [],
  },
  {
    name: "the window slides: old events drop out, new ones complete it",
    observations: [event(0, "E21"), event(5, "E21"), event(10.5, "E21"), event(12, "E21")],
    expected: [12],
  },
  {
    name: "codes outside the list do not count",
    observations: [event(0, "E21"), event(1, "E99"), event(2, "E99"), event(3, "E22")],
    expected: [],
  },
  {
    name: "fires once per episode while events keep coming",
    observations: [0, 2, 4, 6, 8, 10, 12, 14].map((m) => event(m, "E21")),
    expected: [4],
  },
  {
    name: "telemetry moves the window, ending the episode; the next burst fires again",
    observations: [event(0, "E21"), event(1, "E21"), event(2, "E21"), reading(20, { drain_time_s: 60 }), event(21, "E21"), event(22, "E21"), event(23, "E21")],
    expected: [2, 23],
  },
  {
    name: "a burst after a quiet spell is a new episode, even with no observation in between",
    observations: [event(0, "E21"), event(1, "E21"), event(2, "E21"), event(30, "E21"), event(31, "E21"), event(32, "E21")],
    expected: [2, 32],
  },
  {
    name: "atLeast 1 fires on the first matching event after each quiet window",
    atLeast: 1,
    within: "5m",
    observations: [event(0, "E21"), event(3, "E21"), event(9, "E22"), event(10, "E99")],
    expected: [0, 9],
  },
];

describe("count rules", () => {
  it.each(cases)("$name", ({ within, atLeast, observations, expected }) => {
    expect(minutesOf(run([countRule(within, atLeast)], observations))).toEqual(expected);
  });

  it("carries the events that completed the count as evidence", () => {
    const [detection] = run([countRule()], [event(0, "E21"), event(11, "E21"), event(14, "E21"), event(15, "E22")]);
    expect(detection?.evidence).toEqual({
      kind: "count",
      codes: ["E21", "E22"],
      atLeast: 3,
      withinMs: 600_000,
      first: at(11),
      last: at(15),
      lastCode: "E22",
    });
  });

  it("keeps only the newest atLeast event times however many events arrive", () => {
    const evaluator = createCountEvaluator(countConditionSchema.parse({ kind: "count", codes: ["E21"], atLeast: 5, within: "1h" }));
    const state = evaluator.initialState();
    for (let i = 0; i < 100_000; i++) evaluator.step(state, event(i, "E21"));
    expect(state.times).toHaveLength(5);
    expect(state.seen).toBe(5);
  });
});
