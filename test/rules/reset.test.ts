import { describe, expect, it } from "vitest";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { event, minutesOf, reading, washerRuleWith } from "./fixtures.js";

const doorErrors = washerRuleWith(
  { kind: "count", codes: ["E21"], atLeast: 3, within: "1h" },
  { id: "door-errors", ticket: { problem: "door-lock", title: "Door lock failing" } },
);
const hotWater = washerRuleWith(
  { kind: "aggregate", metric: "water_temp_c", fn: "avg", over: "2h", op: ">", value: 60, for: "15m" },
  { id: "hot-water", ticket: { problem: "heater", title: "Heater overheating" } },
);
const rules = [doorErrors, hotWater].map((rule) => ({ rule, version: 1 }));

const beforeRepair: Observation[] = [event(0, "E21"), event(5, "E21"), reading(6, { water_temp_c: 90 }), reading(7, { water_temp_c: 90 })];
// Normal after the repair, but not normal enough to outweigh what came before it.
const afterRepair: Observation[] = [event(20, "E21"), reading(21, { water_temp_c: 45 }), reading(22, { water_temp_c: 45 })];

function play(reset: (engine: ReturnType<typeof createRuleEngine>) => void) {
  const engine = createRuleEngine(rules);
  const before = beforeRepair.flatMap((o) => engine.evaluate(o).detections);
  reset(engine);
  const after = afterRepair.flatMap((o) => engine.evaluate(o).detections);
  expect(before).toEqual([]);
  return { after: after.map((d) => [d.ruleId, minutesOf([d])[0]]) };
}

describe("resetRules", () => {
  it("without a reset, pre-repair history fires after the repair", () => {
    expect(play(() => {}).after).toEqual([["door-errors", 20], ["hot-water", 21]]);
  });

  it("a reset of one problem restarts only the rules behind it", () => {
    expect(play((engine) => engine.resetRules("wm-0001", "door-lock")).after).toEqual([["hot-water", 21]]);
  });

  it("a full reset restarts every rule", () => {
    expect(play((engine) => engine.resetRules("wm-0001")).after).toEqual([]);
  });

  it("keeps the device's event time, so older observations stay late", () => {
    const engine = createRuleEngine(rules);
    engine.evaluate(reading(10, { water_temp_c: 40 }));
    engine.resetRules("wm-0001");
    expect(engine.evaluate(reading(5, { water_temp_c: 40 })).late).toBe(true);
  });
});
