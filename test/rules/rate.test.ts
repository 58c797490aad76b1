import { describe, expect, it } from "vitest";
import { WINDOW_BUCKETS } from "../../rules/bucket-ring.js";
import { rateConditionSchema } from "../../rules/condition-schema.js";
import type { Observation } from "../../rules/observation.js";
import { createRateEvaluator } from "../../rules/rate-evaluator.js";
import { minutesOf, reading, run, washerRuleWith } from "./fixtures.js";

const temp = (minute: number, value: number) => reading(minute, { water_temp_c: value });
/** Readings every `step` minutes from `from` to `to` following `f(minute)`. */
const series = (from: number, to: number, step: number, f: (minute: number) => number) => {
  const out: Observation[] = [];
  for (let m = from; m <= to; m += step) out.push(temp(m, f(m)));
  return out;
};
const rateRule = (when: Record<string, unknown> = {}) =>
  washerRuleWith({ kind: "rate", metric: "water_temp_c", op: ">", value: 6, over: "30m", ...when });

// Rules compare the slope in °C per hour; times are minutes after T0.
const cases: { name: string; when?: Record<string, unknown>; observations: Observation[]; expected: number[] }[] = [
  {
    name: "a steady rise above the rate fires once two points make a slope",
    observations: series(0, 30, 5, (m) => 20 + 0.2 * m),
    expected: [5],
  },
  {
    name: "a slope exactly at the limit does not hold for >",
    observations: series(0, 30, 5, (m) => 20 + 0.1 * m),
    expected: [],
  },
  {
    name: "a slope exactly at the limit holds for >=",
    when: { op: ">=" },
    observations: series(0, 30, 5, (m) => 20 + 0.1 * m),
    expected: [5],
  },
  {
    name: "a flat signal never fires",
    observations: series(0, 60, 5, () => 40),
    expected: [],
  },
  {
    name: "falling faster than the limit with <",
    when: { op: "<", value: -6 },
    observations: series(0, 30, 5, (m) => 60 - 0.5 * m),
    expected: [5],
  },
  {
    name: "minPoints holds the decision back",
    when: { minPoints: 4 },
    observations: series(0, 30, 5, (m) => 20 + 0.2 * m),
    expected: [15],
  },
  {
    name: "old readings leave the window: a rise, a long plateau, and a second rise fire twice",
    observations: [
      ...series(0, 20, 5, (m) => 20 + m),
      ...series(25, 80, 5, () => 40),
      ...series(85, 100, 5, (m) => 40 + (m - 80)),
    ],
    // At 85 the fit over 55–85 is six readings at 40 and one at 45: 6.4 °C/h.
    expected: [5, 85],
  },
];

describe("rate rules", () => {
  it.each(cases)("$name", ({ when, observations, expected }) => {
    expect(minutesOf(run([rateRule(when)], observations))).toEqual(expected);
  });

  it("reports the fitted slope per hour, its r² and the points used", () => {
    const [detection] = run([rateRule({ minPoints: 3 })], series(0, 30, 5, (m) => 20 + 0.2 * m));
    expect(detection?.evidence).toMatchObject({ kind: "rate", metric: "water_temp_c", op: ">", limit: 6, points: 3, overMs: 1_800_000 });
    if (detection?.evidence.kind !== "rate") throw new Error("expected rate evidence");
    expect(detection.evidence.slopePerHour).toBeCloseTo(12, 9);
    expect(detection.evidence.r2).toBeCloseTo(1, 9);
  });

  it("ignores readings without the metric and other observation kinds", () => {
    const observations = [temp(0, 20), reading(2, { spin_rpm: 1200 }), temp(5, 21)];
    expect(minutesOf(run([rateRule()], observations))).toEqual([5]);
  });

  it("keeps a bounded window however long it runs, and keeps its precision", () => {
    const evaluator = createRateEvaluator(rateConditionSchema.parse({ kind: "rate", metric: "water_temp_c", op: ">", value: 6, over: "30m" }));
    const state = evaluator.initialState();
    // A year of minute readings rising 0.2 °C per minute (12 °C/h), with a sawtooth so it stays bounded.
    let last = false;
    for (let m = 0; m < 525_600; m++) last = evaluator.step(state, temp(m, 20 + 0.2 * (m % 600)));
    expect(state.fit.ring.capacity).toBeLessThanOrEqual(WINDOW_BUCKETS);
    expect(state.fit.ring.buf.length).toBeLessThanOrEqual(6 + WINDOW_BUCKETS * 7);
    expect(last).toBe(true);
    expect(evaluator.evidence(state)).toMatchObject({ kind: "rate", slopePerHour: expect.closeTo(12, 6) });
  });
});
