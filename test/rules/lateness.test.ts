import { describe, expect, it } from "vitest";
import { createRuleEngine, type RuleEngineOptions } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { at, drain, event, MINUTE, minutesOf, summarize, washerRule, washerRuleWith } from "./fixtures.js";

const lateness = { allowedLatenessMs: 5 * MINUTE };

function play(rules: Parameters<typeof createRuleEngine>[0], observations: Observation[], options: RuleEngineOptions = lateness) {
  const engine = createRuleEngine(rules, options);
  const results = observations.map((o) => engine.evaluate(o));
  return { engine, late: results.map((r) => r.late), detections: results.flatMap((r) => r.detections) };
}

describe("allowed lateness", () => {
  const tenMinutes = [{ rule: washerRule({ when: { for: "10m" } }), version: 1 }];

  it("puts readings that arrive out of order within the lateness back in order", () => {
    // In arrival order 0, 10 would complete the ten minutes; in event time the reading at 5 breaks the run.
    const { detections, late } = play(tenMinutes, [drain(0, 130), drain(10, 130), drain(5, 100), drain(20, 130), drain(26, 131)]);
    expect(late).toEqual([false, false, false, false, false]);
    expect(detections.map(summarize)).toEqual([{ at: 20, value: 130, since: 10, heldMin: 10, readings: 2, min: 130, max: 130 }]);
  });

  it("without lateness the same arrival order is evaluated as it comes and the straggler is late", () => {
    const { detections, late } = play(tenMinutes, [drain(0, 130), drain(10, 130), drain(5, 100)], {});
    expect(late).toEqual([false, false, true]);
    expect(minutesOf(detections)).toEqual([10]);
  });

  it("flags readings older than the lateness and does not evaluate them", () => {
    const { detections, late } = play([{ rule: washerRule(), version: 1 }], [drain(10, 100), drain(4.99, 130), drain(5, 130), drain(16, 100)]);
    expect(late).toEqual([false, true, false, false]);
    expect(minutesOf(detections)).toEqual([5]);
  });

  it("delays a detection until the device's event time has moved on by the lateness", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }], lateness);
    expect(engine.evaluate(drain(0, 130)).detections).toEqual([]);
    expect(engine.evaluate(drain(4, 100)).detections).toEqual([]);
    expect(minutesOf(engine.evaluate(drain(5, 100)).detections)).toEqual([0]);
  });

  it("releases buffered readings when a watermark passes them, and nothing older is accepted after", () => {
    const engine = createRuleEngine([{ rule: washerRule(), version: 1 }], lateness);
    engine.evaluate(drain(10, 130));
    expect(minutesOf(engine.advanceTo(at(10)))).toEqual([10]);
    expect(engine.evaluate(drain(7, 130))).toEqual({ detections: [], late: true, cleared: [] });
  });

  it("orders events for a count window too", () => {
    const rule = washerRuleWith({ kind: "count", codes: ["E21"], atLeast: 3, within: "5m" });
    const { detections } = play([{ rule, version: 1 }], [event(0, "E21"), event(6, "E21"), event(3, "E21"), event(5, "E21"), event(12, "E21")]);
    // In event time: 0, 3, 5 fires at 5; just after 5 the event at 0 leaves the window, so
    // 3, 5, 6 is a new episode. In arrival order 0, 6, 3 would never have been three in 5 minutes.
    expect(minutesOf(detections)).toEqual([5, 6]);
  });

  it("keeps arrival order among readings with the same event time", () => {
    const { detections } = play([{ rule: washerRule(), version: 1 }], [drain(0, 130), drain(0, 100), drain(1, 130), drain(10, 100)]);
    expect(minutesOf(detections)).toEqual([0, 1]);
  });
});
