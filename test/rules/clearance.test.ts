import { describe, expect, it } from "vitest";
import { createRuleEngine } from "../../rules/engine.js";
import { ruleDocumentSchema } from "../../rules/rule-schema.js";
import { validateRule } from "../../rules/validate-rule.js";
import { MINUTE, T0, drain, washerRule } from "./fixtures.js";

const hysteresis = washerRule({ when: { for: "2m", clear: { op: "<=", value: 100, for: "5m" } } });

function run(values: [minute: number, drain: number][]) {
  const engine = createRuleEngine([{ rule: hysteresis, version: 3 }]);
  return values.flatMap(([m, v]) => engine.evaluate(drain(m, v)).cleared.map((c) => ({ ...c, at: (c.clearedAt - T0) / MINUTE })));
}

describe("clearances", () => {
  it("reports a problem cleared once the clear condition has held for clear.for", () => {
    const cleared = run([[0, 150], [2, 150], [3, 90], [5, 95], [8, 90], [9, 90], [12, 90]]);
    expect(cleared).toEqual([
      { ruleId: "washer-drain-slow", ruleVersion: 3, mode: "active", deviceId: "wm-0001", problem: "drain-pump", selfClear: true, clearedAt: T0 + 8 * MINUTE, at: 8 },
    ]);
  });

  it("does not report a clearance while the value hovers between the limits, nor before any detection", () => {
    expect(run([[0, 150], [2, 150], [3, 110], [6, 90], [7, 110], [9, 95]])).toEqual([]);
    expect(run([[0, 90], [10, 90], [20, 90]])).toEqual([]);
  });

  it("turns self-clearing off by default for critical problems and refuses to turn it on", () => {
    expect(hysteresis.ticket.selfClear).toBe(true);
    expect(washerRule().ticket.selfClear).toBe(false); // no clear condition: nothing says when it is over
    expect(washerRule({ severity: "critical", when: { clear: { op: "<=", value: 100 } } }).ticket.selfClear).toBe(false);
    expect(washerRule({ ticket: { problem: "drain-pump", title: "t", selfClear: false } }).ticket.selfClear).toBe(false);
    const doc = { ...ruleDocumentSchema.parse(washerRule()), when: { kind: "threshold", metric: "drain_time_s", op: ">", value: 1 } };
    const refused = validateRule({ ...doc, severity: "critical", ticket: { problem: "leak", title: "Leak", selfClear: true } });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.problems).toEqual([expect.objectContaining({ path: "ticket.selfClear" })]);
  });
});
