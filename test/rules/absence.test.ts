import { describe, expect, it } from "vitest";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { at, event, minutesOf, reading, status, T0, MINUTE, washerRuleWith } from "./fixtures.js";

type Step = Observation | { watermark: number };
const watermark = (minutes: number): Step => ({ watermark: at(minutes) });
const drain = (minute: number) => reading(minute, { drain_time_s: 60 });
const absenceRule = (when: Record<string, unknown> = {}) => washerRuleWith({ kind: "absence", for: "30m", ...when });

/** Observations go to `evaluate`, watermarks to `advanceTo`, in the order given. */
function play(rule = absenceRule(), steps: Step[]) {
  const engine = createRuleEngine([{ rule, version: 1 }]);
  return steps.flatMap((s) => ("watermark" in s ? engine.advanceTo(s.watermark) : engine.evaluate(s).detections));
}

const ignoring = { ignoreWhenPoweredOff: true };
const cases: { name: string; when?: Record<string, unknown>; steps: Step[]; expected: number[] }[] = [
  { name: "silence reaching `for` fires when the watermark gets there", steps: [drain(0), watermark(29.99), watermark(30)], expected: [30] },
  { name: "a watermark far past the limit still dates the detection at the limit", steps: [drain(0), watermark(500)], expected: [30] },
  { name: "fires once per silence however often the clock moves", steps: [drain(0), watermark(31), watermark(40), watermark(90)], expected: [30] },
  { name: "regular telemetry keeps it quiet", steps: [...[0, 10, 20, 30, 40, 50, 60].map(drain), watermark(60)], expected: [] },
  { name: "events and offline statuses are not telemetry", steps: [drain(0), event(10, "E21"), status(20, "offline"), watermark(30)], expected: [30] },
  { name: "the next reading after a gap reveals the silence without any watermark", steps: [drain(0), drain(45)], expected: [30] },
  {
    name: "a device that comes back and falls silent again fires again",
    steps: [drain(0), watermark(40), drain(50), watermark(79), watermark(80)],
    expected: [30, 80],
  },
  { name: "powered_off is silence like any other without ignoreWhenPoweredOff", steps: [drain(0), status(5, "powered_off"), watermark(60)], expected: [30] },
  { name: "powered_off with ignoreWhenPoweredOff: no detection", when: ignoring, steps: [drain(0), status(5, "powered_off"), watermark(600)], expected: [] },
  {
    name: "the last will's offline after powered_off does not undo it",
    when: ignoring,
    steps: [drain(0), status(5, "powered_off"), status(6, "offline"), watermark(600)],
    expected: [],
  },
  {
    name: "back online after powered_off: the silence is counted from the return",
    when: ignoring,
    steps: [drain(0), status(5, "powered_off"), status(100, "online"), watermark(129), watermark(130)],
    expected: [130],
  },
  {
    name: "powered_off while already reported silent ends the episode",
    when: ignoring,
    steps: [drain(0), watermark(40), status(41, "powered_off"), drain(50), watermark(80)],
    expected: [30, 80],
  },
];

describe("absence rules", () => {
  it.each(cases)("$name", ({ when, steps, expected }) => {
    expect(minutesOf(play(absenceRule(when), steps))).toEqual(expected);
  });

  it("reports when the device was last seen and how long it was silent", () => {
    const [detection] = play(absenceRule(), [drain(0), drain(12), status(13, "offline"), watermark(120)]);
    expect(detection).toMatchObject({ detectedAt: at(42), deviceId: "wm-0001" });
    expect(detection?.evidence).toEqual({ kind: "absence", lastSeenAt: at(12), forMs: 30 * MINUTE, silentMs: 30 * MINUTE, lastStatus: "offline" });
  });

  it("watches every device it has seen, and only those that are due cost anything", () => {
    const engine = createRuleEngine([{ rule: absenceRule(), version: 1 }]);
    for (let i = 0; i < 1000; i++) engine.evaluate(reading(i % 10, { drain_time_s: 60 }, { deviceId: `wm-${i}` }));
    expect(engine.advanceTo(at(38))).toHaveLength(900);
    expect(engine.advanceTo(at(40))).toHaveLength(100);
    expect(engine.advanceTo(at(1000))).toEqual([]);
  });

  it("a rule loaded later starts watching from each device's last event time", () => {
    const engine = createRuleEngine([]);
    engine.evaluate(drain(0));
    engine.evaluate(drain(10));
    engine.setRules([{ rule: absenceRule(), version: 1 }]);
    expect(minutesOf(engine.advanceTo(at(60)))).toEqual([40]);
  });

  it("forgets a reset device's deadline", () => {
    const engine = createRuleEngine([{ rule: absenceRule(), version: 1 }]);
    engine.evaluate(drain(0));
    engine.resetDevice("wm-0001");
    expect(engine.advanceTo(T0 + 10 * 60 * MINUTE)).toEqual([]);
  });
});

describe("absence on a live clock with arrival times", () => {
  it("judges silence in each device's own event time, whatever its clock's offset", () => {
    const engine = createRuleEngine([{ rule: absenceRule(), version: 1 }]);
    const DAY = 24 * 60 * MINUTE;
    // Device A's clock is a day behind the caller's; device B's is in step.
    engine.evaluate({ ...drain(0), deviceId: "wm-a" }, at(0) + DAY);
    engine.evaluate({ ...drain(0), deviceId: "wm-b" }, at(0));
    expect(engine.advanceTo(at(29) + DAY)).toEqual([expect.objectContaining({ deviceId: "wm-b", detectedAt: at(30) })]);
    expect(engine.advanceTo(at(31) + DAY)).toEqual([expect.objectContaining({ deviceId: "wm-a", detectedAt: at(30) })]);
  });

  it("follows the newest arrival: a device that caught up is judged on its new offset", () => {
    const engine = createRuleEngine([{ rule: absenceRule(), version: 1 }]);
    engine.evaluate(drain(0), at(0) + 10 * MINUTE);
    engine.evaluate(drain(20), at(20));
    expect(engine.advanceTo(at(49))).toEqual([]);
    expect(minutesOf(engine.advanceTo(at(50)))).toEqual([50]);
  });
});
