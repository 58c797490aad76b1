import { describe, expect, it } from "vitest";
import { createAggregateEvaluator } from "../../rules/aggregate-evaluator.js";
import { aggregateConditionSchema } from "../../rules/condition-schema.js";
import type { Observation } from "../../rules/observation.js";
import { at, minutesOf, reading, run, washerRuleWith } from "./fixtures.js";

const temp = (minute: number, value: number) => reading(minute, { water_temp_c: value });
/** Readings every 5 minutes from minute 0 with the given values. */
const every5 = (...values: number[]) => values.map((v, i) => temp(i * 5, v));
const aggregateRule = (when: Record<string, unknown>) =>
  washerRuleWith({ kind: "aggregate", metric: "water_temp_c", over: "30m", ...when });

// Windows of 30 minutes (buckets of 90 s) with readings 5 minutes apart: every reading has its
// own bucket, so the values below are exact. Times are minutes after T0.
const cases: { name: string; when: Record<string, unknown>; observations: Observation[]; expected: number[] }[] = [
  { name: "avg above the limit", when: { fn: "avg", op: ">", value: 50 }, observations: every5(40, 50, 70), expected: [10] },
  { name: "avg exactly at the limit does not hold for >", when: { fn: "avg", op: ">", value: 50 }, observations: every5(40, 60), expected: [] },
  { name: "avg exactly at the limit holds for >=", when: { fn: "avg", op: ">=", value: 50 }, observations: every5(40, 60), expected: [5] },
  {
    name: "min: a low reading ends the episode until it leaves the window",
    when: { fn: "min", op: ">", value: 45 },
    observations: [temp(0, 50), temp(5, 40), temp(10, 60), temp(20, 60), temp(30, 60), temp(40, 60)],
    expected: [0, 40],
  },
  {
    name: "max: a spike holds while it is in the window",
    when: { fn: "max", op: ">", value: 100 },
    observations: [temp(0, 90), temp(5, 120), temp(10, 90), temp(40, 90), temp(45, 110)],
    expected: [5, 45],
  },
  { name: "sum reaching the limit exactly with >=", when: { fn: "sum", op: ">=", value: 100 }, observations: every5(30, 30, 40), expected: [10] },
  { name: "count of readings in the window", when: { fn: "count", op: ">=", value: 3 }, observations: every5(1, 1, 1, 1), expected: [10] },
  { name: "stddev exactly at the limit, then above it", when: { fn: "stddev", op: ">", value: 5 }, observations: every5(50, 50, 50, 60, 65), expected: [20] },
  { name: "median is the lower middle value for an even count", when: { fn: "median", op: ">", value: 50 }, observations: every5(40, 60, 60), expected: [10] },
  {
    name: "p95 ignores one spike in twenty but not two",
    when: { fn: "p95", op: ">", value: 100, over: "4h" },
    observations: Array.from({ length: 40 }, (_, i) => temp(i * 5, i === 20 || i === 30 ? 150 : 50)),
    expected: [150],
  },
  {
    name: "`for` is broken by one reading at which the aggregate does not hold",
    when: { fn: "avg", op: ">", value: 50, for: "10m" },
    observations: [temp(0, 60), temp(5, 60), temp(6, 0), temp(8, 100), temp(13, 60), temp(18, 60)],
    expected: [18],
  },
  { name: "minPoints holds the decision back", when: { fn: "avg", op: ">", value: 50, minPoints: 3 }, observations: every5(60, 60, 60), expected: [10] },
];

describe("aggregate rules", () => {
  it.each(cases)("$name", ({ when, observations, expected }) => {
    expect(minutesOf(run([aggregateRule(when)], observations))).toEqual(expected);
  });

  it("carries the window value, the points and how long it held", () => {
    const [detection] = run([aggregateRule({ fn: "avg", op: ">", value: 50, for: "5m" })], every5(60, 70, 80));
    expect(detection?.evidence).toEqual({
      kind: "aggregate", metric: "water_temp_c", fn: "avg", op: ">", limit: 50, value: 65,
      estimated: false, points: 2, overMs: 1_800_000, since: at(0), heldMs: 300_000,
    });
  });

  it("reports median and p95 as estimates from bucket means", () => {
    const [detection] = run([aggregateRule({ fn: "median", op: ">=", value: 60 })], every5(40, 60, 70));
    expect(detection?.evidence).toMatchObject({ fn: "median", value: 60, estimated: true, points: 3 });
  });

  it.each(["max", "min", "p95", "stddev"] as const)("keeps a bounded window for %s however long it runs", (fn) => {
    const evaluator = createAggregateEvaluator(aggregateConditionSchema.parse({ kind: "aggregate", metric: "water_temp_c", fn, over: "1h", op: ">", value: 50 }));
    const state = evaluator.initialState();
    for (let m = 0; m < 100_000; m++) evaluator.step(state, temp(m, 40 + ((m * 7919) % 23)));
    expect(state.window.ring.capacity).toBeLessThanOrEqual(20);
    expect(state.window.ring.buf.length).toBeLessThanOrEqual(5 + 20 * 6);
    expect(state.window.ring.fields).toBe({ max: 1, min: 1, p95: 5, stddev: 3 }[fn]);
    expect(state.window.extremes?.capacity ?? 0).toBeLessThanOrEqual(21);
    // The window after the run holds the last hour only: 60 readings of the same cycle.
    expect(evaluator.evidence(state).points).toBeGreaterThanOrEqual(57);
    expect(evaluator.evidence(state).points).toBeLessThanOrEqual(60);
  });

  it("min and max agree with a brute-force scan of the same window", () => {
    const values = Array.from({ length: 500 }, (_, i) => Math.round(50 + 30 * Math.sin(i / 7) + ((i * 37) % 11)));
    for (const fn of ["min", "max"] as const) {
      const evaluator = createAggregateEvaluator(aggregateConditionSchema.parse({ kind: "aggregate", metric: "water_temp_c", fn, over: "20m", op: ">", value: 0 }));
      const state = evaluator.initialState();
      values.forEach((v, m) => {
        evaluator.step(state, temp(m, v));
        // Buckets of one minute: the window is exactly the last 20 readings.
        const window = values.slice(Math.max(0, m - 19), m + 1);
        expect(evaluator.evidence(state).value).toBe(fn === "min" ? Math.min(...window) : Math.max(...window));
      });
    }
  });
});
