import { describe, expect, it } from "vitest";
import { compileRule } from "../../rules/compile-rule.js";
import { detectionSchema } from "../../rules/detection.js";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { at, drain, MINUTE, summarize, washerRule, washerRuleWith } from "./fixtures.js";

const evaluateAll = (engine: ReturnType<typeof createRuleEngine>, observations: Observation[]) =>
  observations.flatMap((o) => engine.evaluate(o).detections);

describe("rule engine", () => {
  it("turns a rule and a reading into a detection carrying the ticket fields", () => {
    const rule = washerRule({ severity: "critical", notifyCustomer: true, ticket: { problem: "drain-pump", title: "Drain pump clogging", type: "predicted_failure" } });
    const engine = createRuleEngine([{ rule, version: 3 }]);
    const [detection, ...rest] = engine.evaluate(drain(7, 150)).detections;
    expect(rest).toEqual([]);
    expect(detection).toEqual({
      ruleId: "washer-drain-slow",
      ruleVersion: 3,
      mode: "active",
      deviceId: "wm-0001",
      deviceType: "washer",
      problem: "drain-pump",
      ticketType: "predicted_failure",
      title: "Drain pump clogging",
      severity: "critical",
      notifyCustomer: true,
      detectedAt: at(7),
      evidence: { kind: "threshold", metric: "drain_time_s", op: ">", limit: 120, value: 150, since: at(7), heldMs: 0, readings: 1, min: 150, max: 150 },
    });
    expect(JSON.parse(JSON.stringify(detection))).toEqual(detection);
    expect(detectionSchema.safeParse(detection).success).toBe(true);
  });

  it("ignores and flags a late observation without changing state", () => {
    const engine = createRuleEngine([{ rule: washerRule({ when: { for: "10m" } }), version: 1 }]);
    expect(engine.evaluate(drain(0, 130))).toEqual({ detections: [], late: false, cleared: [] });
    expect(engine.evaluate(drain(6, 130)).late).toBe(false);
    // Would break the run if it were applied.
    expect(engine.evaluate(drain(5, 100))).toEqual({ detections: [], late: true, cleared: [] });
    expect(engine.evaluate(drain(6, 130)).late).toBe(false); // same ts is not late
    expect(engine.evaluate(drain(10, 130)).detections.map(summarize)).toEqual([
      { at: 10, value: 130, since: 0, heldMin: 10, readings: 4, min: 130, max: 130 },
    ]);
  });

  it("judges lateness per device", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }]);
    engine.evaluate(drain(60, 100, { deviceId: "wm-A" }));
    const result = engine.evaluate(drain(1, 130, { deviceId: "wm-B" }));
    expect(result.late).toBe(false);
    expect(result.detections).toHaveLength(1);
  });

  it("evaluates observations within allowedLatenessMs and flags older ones", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }], { allowedLatenessMs: 5 * MINUTE });
    engine.evaluate(drain(10, 100));
    expect(engine.evaluate(drain(5, 130))).toMatchObject({ late: false, detections: [{ detectedAt: at(5) }] });
    expect(engine.evaluate(drain(4.99, 100))).toEqual({ detections: [], late: true, cleared: [] });
  });

  it("applies a rule only to its device type", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }]);
    expect(evaluateAll(engine, [drain(0, 500, { deviceType: "dryer" })])).toEqual([]);
    expect(evaluateAll(engine, [drain(1, 500)])).toHaveLength(1);
  });

  it("keeps state per device", () => {
    const engine = createRuleEngine([{ rule: washerRule({ when: { for: "10m" } }), version: 1 }]);
    const detections = evaluateAll(engine, [
      drain(0, 130, { deviceId: "wm-A" }),
      drain(5, 130, { deviceId: "wm-B" }),
      drain(10, 130, { deviceId: "wm-A" }),
      drain(10, 130, { deviceId: "wm-B" }),
    ]);
    expect(detections.map((d) => [d.deviceId, summarize(d).since])).toEqual([["wm-A", 0]]);
    expect(engine.deviceCount()).toBe(2);
  });

  it("hands each evaluate its own detections, which later evaluations leave alone", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }]);
    const first = engine.evaluate(drain(0, 500, { deviceId: "wm-A" }));
    const quiet = engine.evaluate(drain(1, 500, { deviceId: "wm-A" }));
    const second = engine.evaluate(drain(2, 500, { deviceId: "wm-B" }));
    expect(first.detections.map((d) => d.deviceId)).toEqual(["wm-A"]);
    expect(quiet).toEqual({ detections: [], late: false, cleared: [] });
    expect(second.detections.map((d) => d.deviceId)).toEqual(["wm-B"]);
  });

  it("marks detections of shadow rules and skips disabled rules", () => {
    const engine = createRuleEngine([
      { rule: washerRule({ id: "shadowed", mode: "shadow" }), version: 1 },
      { rule: washerRule({ id: "switched-off", mode: "disabled" }), version: 1 },
      { rule: washerRule({ id: "live" }), version: 2 },
    ]);
    const detections = engine.evaluate(drain(0, 130)).detections;
    expect(detections.map((d) => [d.ruleId, d.mode])).toEqual([
      ["shadowed", "shadow"],
      ["live", "active"],
    ]);
  });

  it("accepts compiled rules as well as rule inputs", () => {
    const engine = createRuleEngine([compileRule({ rule: washerRule(), version: 1 })]);
    expect(engine.evaluate(drain(0, 130)).detections).toHaveLength(1);
  });

  it("refuses two documents under one id and version", () => {
    const rule = washerRule();
    expect(() => createRuleEngine([{ rule, version: 1 }, { rule, version: 1 }])).toThrow(/washer-drain-slow@1/);
  });

  it("forgets a device on resetDevice", () => {
    const engine = createRuleEngine([{ rule: washerRule({ when: { for: "10m" } }), version: 1 }]);
    engine.evaluate(drain(0, 130));
    engine.evaluate(drain(5, 130));
    engine.resetDevice("wm-0001");
    expect(engine.deviceCount()).toBe(0);
    // Neither the run since minute 0 nor the newest event time (minute 5) survives the reset.
    expect(engine.evaluate(drain(4, 130))).toEqual({ detections: [], late: false, cleared: [] });
    expect(engine.evaluate(drain(10, 130)).detections).toEqual([]);
    expect(engine.deviceCount()).toBe(1);
  });
});

describe("setRules", () => {
  const tenMinutes = (version: number) => ({ rule: washerRule({ when: { for: "10m" } }), version });
  const other = { rule: washerRule({ id: "other-rule" }), version: 1 };

  it("keeps state of a rule whose id and version are unchanged", () => {
    const engine = createRuleEngine([tenMinutes(1)]);
    engine.evaluate(drain(0, 130));
    engine.setRules([other, tenMinutes(1)]);
    const detections = engine.evaluate(drain(10, 130)).detections;
    expect(detections.filter((d) => d.ruleId === "washer-drain-slow").map(summarize)).toEqual([
      { at: 10, value: 130, since: 0, heldMin: 10, readings: 2, min: 130, max: 130 },
    ]);
  });

  it("keeps the latch, so an unchanged rule does not fire again after a swap", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }]);
    expect(engine.evaluate(drain(0, 130)).detections).toHaveLength(1);
    engine.setRules([{ rule: washerRule(), version: 1 }]);
    expect(engine.evaluate(drain(1, 130)).detections).toEqual([]);
  });

  it("drops state of a rule whose version changed", () => {
    const engine = createRuleEngine([tenMinutes(1)]);
    engine.evaluate(drain(0, 130));
    engine.setRules([tenMinutes(2)]);
    expect(engine.evaluate(drain(10, 130)).detections).toEqual([]);
    expect(engine.evaluate(drain(20, 130)).detections.map((d) => [d.ruleVersion, summarize(d).since])).toEqual([[2, 10]]);
  });

  it("drops state of a rule that is removed, even if it comes back", () => {
    const engine = createRuleEngine([tenMinutes(1)]);
    engine.evaluate(drain(0, 130));
    engine.setRules([other]);
    engine.setRules([tenMinutes(1)]);
    expect(engine.evaluate(drain(10, 130)).detections).toEqual([]);
  });

  it("stops evaluating a rule that becomes disabled", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }]);
    expect([engine.covers("washer"), engine.covers("fridge"), engine.deviceTypes()]).toEqual([true, false, ["washer"]]);
    engine.setRules([{ rule: washerRule({ mode: "disabled" }), version: 1 }]);
    expect(engine.evaluate(drain(0, 130)).detections).toEqual([]);
    expect([engine.covers("washer"), engine.deviceTypes()]).toEqual([false, []]);
  });

  it("absorbs a rule warmed up on another engine, keeping the state both built", () => {
    // Running: fires after 10 min above 120. Warming: a second version that needs 20 min.
    const running = createRuleEngine([{ rule: washerRule({ when: { for: "10m" } }), version: 1 }]);
    const warming = createRuleEngine([{ rule: washerRule({ when: { for: "20m" } }), version: 2 }]);
    const silence = createRuleEngine([{ rule: washerRuleWith({ kind: "absence", for: "30m" }, { id: "washer-silent" }), version: 1 }]);
    for (let m = 0; m <= 8; m++) {
      running.evaluate(drain(m, 130));
      warming.evaluate(drain(m, 130));
    }
    // A device only the warming engine knows (silent since): its absence is watched afterwards.
    silence.evaluate(drain(0, 50, { deviceId: "wm-0002" }));
    running.absorb(warming);
    running.absorb(silence);
    const fired = (m: number) => running.evaluate(drain(m, 130)).detections.map((d) => `${d.ruleId}@${d.ruleVersion}:${(d.detectedAt - at(0)) / MINUTE}`);
    expect(fired(9)).toEqual([]);
    expect(fired(10)).toEqual(["washer-drain-slow@1:10"]); // its own state kept, not restarted
    for (let m = 11; m < 20; m++) expect(fired(m)).toEqual([]);
    expect(fired(20)).toEqual(["washer-drain-slow@2:20"]); // the absorbed state counts from minute 0
    expect(running.advanceTo(at(31)).map((d) => `${d.ruleId}:${d.deviceId}`)).toEqual(["washer-silent:wm-0002"]);
    expect(running.deviceCount()).toBe(2);
    expect(() => running.absorb(running)).toThrow(/another rule engine/);
  });
});
