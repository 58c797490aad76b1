import { describe, expect, it } from "vitest";
import { compare } from "../../rules/comparison.js";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { thresholdConditionSchema, type ComparisonOp, type RuleDocument } from "../../rules/rule-schema.js";
import { createThresholdEvaluator } from "../../rules/threshold-evaluator.js";
import { at, drain, otherMetric, summarize, washerRule } from "./fixtures.js";

type Expected = ReturnType<typeof summarize>;
const fired = (minute: number, value: number, since: number, readings: number, min: number, max: number): Expected => ({
  at: minute,
  value,
  since,
  heldMin: minute - since,
  readings,
  min,
  max,
});

// Every rule: drain_time_s > 120 unless `when` says otherwise. Times are minutes.
const cases: { name: string; rule: RuleDocument; observations: Observation[]; expected: Expected[] }[] = [
  {
    name: "without `for` fires on the first holding reading",
    rule: washerRule(),
    observations: [drain(0, 100), drain(1, 130), drain(2, 140)],
    expected: [fired(1, 130, 1, 1, 130, 130)],
  },
  {
    name: "a reading exactly at the limit does not hold for >",
    rule: washerRule(),
    observations: [drain(0, 120)],
    expected: [],
  },
  {
    name: "`for` reached exactly fires on that reading",
    rule: washerRule({ when: { for: "10m" } }),
    observations: [drain(0, 130), drain(5, 125), drain(10, 121)],
    expected: [fired(10, 121, 0, 3, 121, 130)],
  },
  {
    name: "`for` not reached does not fire",
    rule: washerRule({ when: { for: "10m" } }),
    observations: [drain(0, 130), drain(5, 125), drain(9.999, 121)],
    expected: [],
  },
  {
    name: "a non-holding reading breaks the run and `for` starts again",
    rule: washerRule({ when: { for: "10m" } }),
    observations: [drain(0, 130), drain(5, 110), drain(10, 130), drain(15, 130), drain(20, 135)],
    expected: [fired(20, 135, 10, 3, 130, 135)],
  },
  {
    name: "readings without the metric neither break nor extend the run",
    rule: washerRule({ when: { for: "10m" } }),
    observations: [drain(0, 130), otherMetric(5), drain(10, 140)],
    expected: [fired(10, 140, 0, 2, 130, 140)],
  },
  {
    name: "events and status changes do not touch a threshold run",
    rule: washerRule({ when: { for: "10m" } }),
    observations: [
      drain(0, 130),
      { kind: "event", deviceId: "wm-0001", deviceType: "washer", ts: at(4), code: "E21" },
      { kind: "status", deviceId: "wm-0001", deviceType: "washer", ts: at(6), status: "offline" },
      drain(10, 130),
    ],
    expected: [fired(10, 130, 0, 2, 130, 130)],
  },
  {
    name: "fires once per episode",
    rule: washerRule({ when: { for: "2m" } }),
    observations: [drain(0, 130), drain(2, 140), drain(4, 150), drain(6, 160)],
    expected: [fired(2, 140, 0, 2, 130, 140)],
  },
  {
    name: "re-arms when a reading breaks the run and fires again as a new detection",
    rule: washerRule(),
    observations: [drain(0, 130), drain(1, 131), drain(2, 100), drain(3, 125)],
    expected: [fired(0, 130, 0, 1, 130, 130), fired(3, 125, 3, 1, 125, 125)],
  },
  {
    name: "without `clear` a value hovering at the limit flaps",
    rule: washerRule(),
    observations: [drain(0, 130), drain(1, 119), drain(2, 121), drain(3, 119), drain(4, 125)],
    expected: [fired(0, 130, 0, 1, 130, 130), fired(2, 121, 2, 1, 121, 121), fired(4, 125, 4, 1, 125, 125)],
  },
  {
    name: "with `clear` the same hovering does not re-fire until clear holds for clear.for",
    rule: washerRule({ when: { clear: { op: "<", value: 100, for: "5m" } } }),
    observations: [
      drain(0, 130),
      drain(1, 119),
      drain(2, 121),
      drain(3, 119),
      drain(4, 125),
      drain(5, 95), // clear starts holding
      drain(7, 99),
      drain(8, 105), // breaks the clear run before 5m
      drain(9, 90),
      drain(13, 130), // still latched, so no detection; also breaks the clear run after 4m
      drain(14, 90),
      drain(19, 92), // clear has held 5m: re-armed
      drain(20, 130),
    ],
    expected: [fired(0, 130, 0, 1, 130, 130), fired(20, 130, 20, 1, 130, 130)],
  },
  {
    name: "`clear` without `for` re-arms on the first clearing reading, not before",
    rule: washerRule({ when: { clear: { op: "<=", value: 100 } } }),
    observations: [drain(0, 130), drain(1, 110), drain(2, 130), drain(3, 100), drain(4, 130)],
    expected: [fired(0, 130, 0, 1, 130, 130), fired(4, 130, 4, 1, 130, 130)],
  },
  {
    name: "`for` and `clear` together: a new episode needs the full `for` again",
    rule: washerRule({ when: { for: "10m", clear: { op: "<", value: 100 } } }),
    observations: [drain(0, 130), drain(10, 130), drain(11, 90), drain(12, 130), drain(20, 130), drain(22, 131)],
    expected: [fired(10, 130, 0, 2, 130, 130), fired(22, 131, 12, 3, 130, 131)],
  },
  {
    name: "`<` compares downwards",
    rule: washerRule({ when: { metric: "drain_time_s", op: "<", value: 5, for: "1m" } }),
    observations: [drain(0, 4), drain(1, 3), drain(2, 6)],
    expected: [fired(1, 3, 0, 2, 3, 4)],
  },
];

describe("threshold rules", () => {
  it.each(cases)("$name", ({ rule, observations, expected }) => {
    const engine = createRuleEngine([{ rule, version: 1 }]);
    const detections = observations.flatMap((o) => engine.evaluate(o).detections);
    expect(detections.map(summarize)).toEqual(expected);
  });

  it("keeps a fixed-size state however many readings arrive", () => {
    const evaluator = createThresholdEvaluator(
      thresholdConditionSchema.parse({ kind: "threshold", metric: "drain_time_s", op: ">", value: 120, for: "7d" }),
    );
    const state = evaluator.initialState();
    const shapeAfter = (n: number, from: number) => {
      for (let i = from; i < from + n; i++) evaluator.step(state, drain(i, 130 + (i % 7)));
      return Object.entries(state).map(([key, value]) => [key, typeof value]);
    };
    const shape = shapeAfter(10, 0);
    expect(shapeAfter(10_000, 10)).toEqual(shape);
    expect(shape.every(([, type]) => type === "number" || type === "boolean" || type === "undefined")).toBe(true);
    expect(state).toMatchObject({ readings: 10_010, min: 130, max: 136 });
  });
});

describe("compare", () => {
  const table: [ComparisonOp, number, number, boolean][] = [
    [">", 2, 1, true],
    [">", 1, 1, false],
    [">=", 1, 1, true],
    [">=", 0, 1, false],
    ["<", 0, 1, true],
    ["<", 1, 1, false],
    ["<=", 1, 1, true],
    ["<=", 2, 1, false],
    ["==", 1, 1, true],
    ["==", 1.0001, 1, false],
    ["!=", 2, 1, true],
    ["!=", 1, 1, false],
  ];
  it.each(table)("%s: %d against %d is %s", (op, actual, limit, expected) => {
    expect(compare(op, actual, limit)).toBe(expected);
  });
});
