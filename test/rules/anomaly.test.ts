import { describe, expect, it } from "vitest";
import type { Detection } from "../../rules/detection.js";
import type { Observation } from "../../rules/observation.js";
import { reading, run, T0, washerRuleWith } from "./fixtures.js";

const HOUR = 60;
/** Vibration every 10 minutes from hour `from` (inclusive) to `to` (exclusive). */
const vibration = (from: number, to: number, f: (hour: number, i: number) => number): Observation[] => {
  const out: Observation[] = [];
  for (let m = from * HOUR, i = 0; m < to * HOUR; m += 10, i++) out.push(reading(m, { vibration: f(m / HOUR, i) }));
  return out;
};
// Normal vibration: 10 ± 1 in a fixed pattern, spread about 0.7.
const noise = (_h: number, i: number) => 10 + [-1, 0, 1, 0][i % 4]!;
const anomalyRule = (when: Record<string, unknown> = {}) =>
  washerRuleWith({ kind: "anomaly", metric: "vibration", baseline: "1d", over: "1h", z: 3, direction: "up", ...when });
const hoursOf = (detections: Detection[]) => detections.map((d) => Math.round(((d.detectedAt - T0) / 3_600_000) * 100) / 100);

const day = vibration(0, 25, noise);
const cases: { name: string; when?: Record<string, unknown>; observations: Observation[]; expected: number[] }[] = [
  // One reading at 20 among six in the hour lifts the mean to 11.7 (z ≈ 2.3); the second to 13.3.
  { name: "a step up fires once the recent mean is z spreads above", observations: [...day, ...vibration(25, 30, () => 20)], expected: [25.17] },
  { name: "a step down does not fire for direction up", observations: [...day, ...vibration(25, 30, () => 2)], expected: [] },
  { name: "a step down fires for direction down", when: { direction: "down" }, observations: [...day, ...vibration(25, 30, () => 2)], expected: [25.17] },
  { name: "both directions: up", when: { direction: "both" }, observations: [...day, ...vibration(25, 30, () => 20)], expected: [25.17] },
  { name: "noise alone never fires", when: { direction: "both" }, observations: vibration(0, 72, noise), expected: [] },
  {
    name: "a slow drift the baseline keeps up with does not fire",
    observations: vibration(0, 72, (h, i) => noise(h, i) + 0.01 * h),
    expected: [],
  },
  { name: "too few baseline points: no decision", when: { minBaseline: 200 }, observations: [...day, ...vibration(25, 30, () => 20)], expected: [] },
  {
    name: "the baseline is frozen during the anomaly, so the fault does not become normal",
    observations: [...day, ...vibration(25, 35, () => 20), ...vibration(35, 36.5, noise), ...vibration(36.5, 38, () => 20)],
    expected: [25.17, 36.67],
  },
];

describe("anomaly rules", () => {
  it.each(cases)("$name", ({ when, observations, expected }) => {
    expect(hoursOf(run([anomalyRule(when)], observations))).toEqual(expected);
  });

  it("carries the recent window, the baseline and z", () => {
    const [detection] = run([anomalyRule()], [...day, ...vibration(25, 26, () => 20)]);
    expect(detection?.evidence).toEqual({
      kind: "anomaly",
      metric: "vibration",
      direction: "up",
      limit: 3,
      z: expect.closeTo(4.7, 1),
      recentMean: expect.closeTo(13.33, 1),
      recentPoints: 6,
      baselineMean: expect.closeTo(10, 1),
      baselineStddev: expect.closeTo(0.71, 1),
      baselinePoints: expect.toSatisfy((n: number) => n >= 135 && n <= 144),
    });
  });

  it("measures the second step against the pre-fault baseline", () => {
    // Control for the frozen case above: the 10 hours at 20 stay out of the baseline, which
    // still says 10 when the second step comes.
    const detections = run([anomalyRule()], [...day, ...vibration(25, 35, () => 20), ...vibration(35, 36.5, noise), ...vibration(36.5, 38, () => 20)]);
    expect(detections[1]?.evidence).toMatchObject({ baselineMean: expect.closeTo(10, 0) });
  });

  it("reports a baseline with no spread as an infinite z (null in JSON)", () => {
    const [detection] = run([anomalyRule()], [...vibration(0, 25, () => 10), ...vibration(25, 26, () => 11)]);
    expect(detection?.evidence).toMatchObject({ z: null, baselineStddev: 0 });
  });
});
