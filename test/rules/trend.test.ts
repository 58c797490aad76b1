import { describe, expect, it } from "vitest";
import type { Observation } from "../../rules/observation.js";
import { T0, reading, run, washerRuleWith } from "./fixtures.js";

const HOUR = 3_600_000;
const hours = (d: { detectedAt: number }) => (d.detectedAt - T0) / HOUR;
const drainAtHour = (h: number, value: number) => reading(h * 60, { drain_time_s: value });
/** Hourly readings from hour `from` to `to` following `f(hour)`. */
const hourly = (from: number, to: number, f: (h: number) => number): Observation[] => {
  const out: Observation[] = [];
  for (let h = from; h <= to; h++) out.push(drainAtHour(h, f(h)));
  return out;
};
// Drain time creeping up 1 s per hour from 100 s reaches the 180 s limit at hour 80.
const rising = (h: number) => 100 + h;
const trendRule = (when: Record<string, unknown> = {}) =>
  washerRuleWith({ kind: "trend", metric: "drain_time_s", op: ">=", value: 180, within: "7d", over: "12h", ...when });

const cases: { name: string; when?: Record<string, unknown>; observations: Observation[]; expected: { at: number; predictedAt: number }[] }[] = [
  {
    name: "fires at the fifth point (default minPoints) with the date the line reaches the limit",
    observations: hourly(0, 10, rising),
    expected: [{ at: 4, predictedAt: 80 }],
  },
  {
    name: "a predicted failure exactly `within` away fires",
    when: { within: "76h" },
    observations: hourly(0, 10, rising),
    expected: [{ at: 4, predictedAt: 80 }],
  },
  {
    name: "one hour more than `within` away waits for the next reading",
    when: { within: "75h" },
    observations: hourly(0, 10, rising),
    expected: [{ at: 5, predictedAt: 80 }],
  },
  {
    name: "a rise that keeps going reaches the horizon",
    when: { within: "24h" },
    observations: hourly(0, 60, rising),
    expected: [{ at: 56, predictedAt: 80 }],
  },
  {
    name: "the same rise flattening out never does",
    when: { within: "24h" },
    observations: hourly(0, 60, (h) => (h <= 10 ? rising(h) : 110)),
    expected: [],
  },
  {
    name: "a noisy series whose fit explains too little (r² < minR2) does not fire",
    observations: hourly(0, 24, (h) => 100 + h * 0.5 + (h % 2 === 0 ? 30 : -30)),
    expected: [],
  },
  {
    name: "a line already past the limit predicts now",
    observations: hourly(0, 6, (h) => 200 + h),
    expected: [{ at: 4, predictedAt: 4 }],
  },
  {
    name: "a line heading away from the limit predicts nothing",
    observations: hourly(0, 24, (h) => 170 - h),
    expected: [],
  },
  {
    name: "a falling metric against a lower limit with <=",
    when: { op: "<=", value: 50 },
    observations: hourly(0, 10, (h) => 130 - 2 * h),
    expected: [{ at: 4, predictedAt: 40 }],
  },
  {
    name: "re-arms when the prediction leaves the horizon and fires again on the next approach",
    when: { within: "24h", over: "6h" },
    observations: [...hourly(0, 60, rising), ...hourly(61, 80, () => 140), ...hourly(81, 120, (h) => 140 + (h - 80))],
    expected: [{ at: 56, predictedAt: 80 }, { at: 96, predictedAt: 120 }],
  },
];

describe("trend rules", () => {
  it.each(cases)("$name", ({ when, observations, expected }) => {
    const detections = run([trendRule(when)], observations);
    const summary = detections.map((d) => ({ at: hours(d), predictedAt: Math.round(hours({ detectedAt: d.predictedFailureAt! }) * 10) / 10 }));
    expect(summary).toEqual(expected);
  });

  it("opens a predicted-failure ticket carrying the date and the fit's quality", () => {
    const [detection] = run([trendRule()], hourly(0, 10, rising));
    expect(detection).toMatchObject({ ticketType: "predicted_failure", predictedFailureAt: T0 + 80 * HOUR, detectedAt: T0 + 4 * HOUR });
    expect(detection?.evidence).toEqual({
      kind: "trend",
      metric: "drain_time_s",
      op: ">=",
      limit: 180,
      predictedFailureAt: T0 + 80 * HOUR,
      fittedValue: expect.closeTo(104, 9),
      slopePerHour: expect.closeTo(1, 9),
      r2: expect.closeTo(1, 9),
      points: 5,
      overMs: 12 * HOUR,
      withinMs: 7 * 24 * HOUR,
    });
  });

  it("fires on the same noisy series once minR2 no longer guards it, reporting the poor fit", () => {
    const noisy = hourly(0, 24, (h) => 100 + h * 0.5 + (h % 2 === 0 ? 30 : -30));
    const [first] = run([trendRule({ minR2: 0 })], noisy);
    expect(first && hours(first)).toBe(4);
    expect(first?.evidence).toMatchObject({ kind: "trend", r2: expect.toSatisfy((r2: number) => r2 < 0.5) });
  });

  it("keeps a ticket type written in the document", () => {
    const rule = washerRuleWith(
      { kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: "7d", over: "12h" },
      { ticket: { problem: "drain-pump", title: "Drain pump wearing", type: "service" } },
    );
    expect(run([rule], hourly(0, 6, rising))[0]?.ticketType).toBe("service");
  });
});
