import { firstValueFrom, from, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { detect } from "../../rules/detect.js";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { drain, MINUTE, otherMetric, T0, washerRule } from "./fixtures.js";

const rules = [
  { rule: washerRule({ when: { for: "10m", clear: { op: "<", value: 100 } } }), version: 1 },
  { rule: washerRule({ id: "drain-any-spike", mode: "shadow" }), version: 4 },
];

// Two devices interleaved, a late reading, a missing metric, two episodes on wm-A.
const recording: Observation[] = [
  drain(0, 130, { deviceId: "wm-A" }),
  drain(1, 90, { deviceId: "wm-B" }),
  otherMetric(3, "wm-A"),
  drain(5, 140, { deviceId: "wm-A" }),
  drain(2, 140, { deviceId: "wm-A" }), // late
  drain(6, 150, { deviceId: "wm-B" }),
  drain(10, 125, { deviceId: "wm-A" }),
  drain(16, 125, { deviceId: "wm-B" }),
  drain(20, 95, { deviceId: "wm-A" }),
  drain(30, 130, { deviceId: "wm-A" }),
  drain(40, 131, { deviceId: "wm-A" }),
];

describe("detect operator", () => {
  it("yields the same detections as calling evaluate directly", async () => {
    const direct = createRuleEngine(rules);
    const expected = recording.flatMap((o) => direct.evaluate(o).detections);

    const piped = await firstValueFrom(from(recording).pipe(detect(createRuleEngine(rules)), toArray()));

    expect(piped).toEqual(expected);
    expect(piped.map((d) => [d.ruleId, d.mode, d.deviceId, (d.detectedAt - T0) / MINUTE])).toEqual([
      ["drain-any-spike", "shadow", "wm-A", 0],
      ["drain-any-spike", "shadow", "wm-B", 6],
      ["washer-drain-slow", "active", "wm-A", 10],
      ["washer-drain-slow", "active", "wm-B", 16],
      ["drain-any-spike", "shadow", "wm-A", 30],
      ["washer-drain-slow", "active", "wm-A", 40],
    ]);
  });
});
