import { describe, expect, it } from "vitest";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { at, event, minutesOf, reading, run, T0, washerRuleWith } from "./fixtures.js";

const drain = (minute: number, value: number) => reading(minute, { drain_time_s: value });
const spin = (minute: number, value: number) => reading(minute, { spin_rpm: value });
const both = (minute: number, drainS: number, rpm: number) => reading(minute, { drain_time_s: drainS, spin_rpm: rpm });

const slowDrain = { kind: "threshold", metric: "drain_time_s", op: ">", value: 120 };
const weakSpin = { kind: "threshold", metric: "spin_rpm", op: "<", value: 800 };
const composite = (kind: "all" | "any", ...of: Record<string, unknown>[]) => washerRuleWith({ kind, of });

const cases: { name: string; kind: "all" | "any"; of: Record<string, unknown>[]; observations: Observation[]; expected: number[] }[] = [
  {
    name: "all: fires when the second metric joins the first, reported in separate messages",
    kind: "all",
    of: [slowDrain, weakSpin],
    observations: [drain(0, 130), spin(1, 1200), spin(2, 700), drain(3, 140)],
    expected: [2],
  },
  {
    name: "all: fires on one message carrying both metrics",
    kind: "all",
    of: [slowDrain, weakSpin],
    observations: [both(0, 100, 1200), both(1, 130, 700), both(2, 135, 650)],
    expected: [1],
  },
  {
    name: "all: a member that stops holding ends the episode; both again is a new one",
    kind: "all",
    of: [slowDrain, weakSpin],
    observations: [both(0, 130, 700), spin(1, 1200), spin(2, 700), drain(3, 90), drain(4, 130)],
    expected: [0, 2, 4],
  },
  {
    name: "any: fires when the first member holds and not again while either still does",
    kind: "any",
    of: [slowDrain, weakSpin],
    observations: [both(0, 100, 1200), drain(1, 130), spin(2, 700), drain(3, 90), spin(4, 1200), spin(5, 600)],
    expected: [1, 5],
  },
  {
    name: "a member's `for` is part of its level",
    kind: "all",
    of: [{ ...slowDrain, for: "10m" }, weakSpin],
    observations: [both(0, 130, 700), both(5, 130, 700), both(9, 130, 700), both(10, 130, 700), both(11, 130, 700)],
    expected: [10],
  },
  {
    name: "a member's `clear` keeps it holding: hovering at the limit does not start a new episode",
    kind: "all",
    of: [{ ...slowDrain, clear: { op: "<", value: 100 } }, weakSpin],
    observations: [both(0, 130, 700), drain(1, 115), drain(2, 125), drain(3, 90), drain(4, 125)],
    expected: [0, 4],
  },
  {
    name: "count and threshold: error codes while draining slowly",
    kind: "all",
    of: [slowDrain, { kind: "count", codes: ["E21"], atLeast: 2, within: "10m" }],
    observations: [event(0, "E21"), drain(1, 130), event(20, "E21"), event(25, "E21"), drain(26, 140)],
    expected: [25],
  },
  {
    name: "nested: all(any(a, b), c)",
    kind: "all",
    of: [{ kind: "any", of: [slowDrain, weakSpin] }, { kind: "threshold", metric: "water_temp_c", op: ">", value: 60 }],
    observations: [spin(0, 700), reading(1, { water_temp_c: 50 }), reading(2, { water_temp_c: 65 })],
    expected: [2],
  },
];

describe("composite rules", () => {
  it.each(cases)("$name", ({ kind, of, observations, expected }) => {
    expect(minutesOf(run([composite(kind, ...of)], observations))).toEqual(expected);
  });

  it("carries each member's evidence in document order, null for members not holding", () => {
    const [detection] = run([composite("any", slowDrain, weakSpin)], [both(0, 100, 1200), spin(1, 700)]);
    expect(detection?.evidence).toMatchObject({ kind: "any", of: [null, { kind: "threshold", metric: "spin_rpm", value: 700, since: at(1) }] });
  });

  it("an absence member fires the composite at the event time the silence reached `for`", () => {
    const rule = composite("all", { kind: "absence", for: "30m" }, { kind: "count", codes: ["E50"], atLeast: 1, within: "2h" });
    const engine = createRuleEngine([{ rule, version: 1 }]);
    engine.evaluate(reading(0, { drain_time_s: 60 }));
    engine.evaluate(event(5, "E50"));
    expect(minutesOf(engine.advanceTo(at(29)))).toEqual([]);
    expect(minutesOf(engine.advanceTo(at(90)))).toEqual([30]);
  });

  it("a trend member lends the composite its predicted failure date", () => {
    const rule = composite(
      "all",
      { kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: "7d", over: "12h" },
      { kind: "count", codes: ["E21"], atLeast: 1, within: "1d" },
    );
    const hourly = Array.from({ length: 6 }, (_, h) => drain(h * 60, 100 + h));
    const [detection] = run([rule], [event(0, "E21"), ...hourly]);
    expect(detection).toMatchObject({ detectedAt: at(4 * 60), predictedFailureAt: T0 + 80 * 3_600_000 });
    expect(detection?.ticketType).toBe("service");
  });
});
