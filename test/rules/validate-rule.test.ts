import { describe, expect, it } from "vitest";
import { formatPath, formatProblems, validateRule } from "../../rules/validate-rule.js";

const catalogue = {
  metricsOf: (deviceType: string) =>
    deviceType === "washer" ? ["drain_time_s", "spin_rpm", "water_temp_c"] : undefined,
};

const goodRule = {
  id: "washer-drain-slow",
  name: "Drain pump clogging",
  deviceType: "washer",
  when: { kind: "threshold", metric: "drain_time_s", op: ">", value: 120, for: "10m" },
  severity: "major",
  ticket: { problem: "drain-pump", title: "Drain pump clogging" },
};

const problemsOf = (doc: unknown) => {
  const result = validateRule(doc, catalogue);
  if (result.ok) throw new Error("expected the rule to be rejected");
  return result.problems;
};

describe("validateRule", () => {
  it("accepts the design document's example and fills defaults", () => {
    const result = validateRule(goodRule, catalogue);
    expect(result).toEqual({
      ok: true,
      rule: {
        ...goodRule,
        when: { ...goodRule.when, for: 600_000 },
        ticket: { ...goodRule.ticket, type: "service", selfClear: false },
        notifyCustomer: false,
        mode: "active",
      },
    });
  });

  it("reports every problem at once, each with its path", () => {
    const problems = problemsOf({
      id: "Washer_Drain",
      deviceType: "washer",
      when: { kind: "threshold", metric: "drian_time_s", op: "=>", value: "120", for: "10 minutes", fro: "5m" },
      severity: "urgent",
      ticket: { problem: "drain pump", type: "repair", title: "" },
      mode: "paused",
      extra: true,
    });
    expect(problems.map((p) => p.path).sort()).toEqual(
      ["extra", "id", "mode", "name", "severity", "ticket.problem", "ticket.title", "ticket.type",
        "when.for", "when.fro", "when.metric", "when.op", "when.value"].sort(),
    );
    expect(problems).toContainEqual({ path: "name", message: "is required" });
    expect(problems).toContainEqual({ path: "when.fro", message: 'unknown field "fro"' });
    expect(problems).toContainEqual({ path: "ticket.title", message: "must not be empty" });
    expect(problems).toContainEqual({ path: "when.op", message: "expected one of > >= < <= == !=" });
  });

  it("names an unknown device type and skips metric checks it cannot make", () => {
    const problems = problemsOf({ ...goodRule, deviceType: "wahser", when: { ...goodRule.when, metric: "nope" } });
    expect(formatProblems(problems)).toBe('deviceType: unknown device type "wahser"');
  });

  it("suggests the metric the author probably meant", () => {
    const problems = problemsOf({ ...goodRule, when: { ...goodRule.when, metric: "drian_time_s" } });
    expect(formatProblems(problems)).toBe(
      'when.metric: unknown metric "drian_time_s" for device type washer; did you mean drain_time_s?',
    );
  });

  it("lists the known metrics when nothing is close", () => {
    const problems = problemsOf({ ...goodRule, when: { ...goodRule.when, metric: "humidity" } });
    expect(problems).toEqual([
      {
        path: "when.metric",
        message: 'unknown metric "humidity" for device type washer; known metrics: drain_time_s, spin_rpm, water_temp_c',
      },
    ]);
  });

  it("rejects bad durations wherever they appear", () => {
    const problems = problemsOf({
      ...goodRule,
      when: { ...goodRule.when, for: "1.5h", clear: { op: "<", value: 100, for: -5 } },
    });
    const message = 'expected a duration like "10m", "24h", "7d" or milliseconds';
    expect(problems).toEqual([
      { path: "when.for", message },
      { path: "when.clear.for", message },
    ]);
  });

  it("rejects an unknown condition kind and still checks its metric", () => {
    const problems = problemsOf({ ...goodRule, when: { kind: "treshold", metric: "spin_rmp" } });
    expect(problems).toEqual([
      { path: "when.kind", message: 'unknown condition kind "treshold"; did you mean threshold?' },
      { path: "when.metric", message: 'unknown metric "spin_rmp" for device type washer; did you mean spin_rpm?' },
    ]);
  });

  it("rejects a clear condition that overlaps the trigger", () => {
    const problems = problemsOf({ ...goodRule, when: { ...goodRule.when, clear: { op: "<", value: 125 } } });
    expect(problems).toEqual([
      { path: "when.clear", message: "clear condition (< 125) overlaps the trigger (> 120): a reading of 122.5 would both fire and clear it" },
    ]);
    expect(validateRule({ ...goodRule, when: { ...goodRule.when, clear: { op: "<=", value: 120 } } }, catalogue).ok).toBe(true);
  });

  it("reports a document that is not an object at the root path", () => {
    expect(problemsOf(null)).toEqual([{ path: "", message: "expected object, received null" }]);
  });
});

describe("formatPath", () => {
  it.each([
    [["when", "metric"], "when.metric"],
    [["when", "of", 1, "metric"], "when.of[1].metric"],
    [["when", "of", 0, "of", 2, "clear", "for"], "when.of[0].of[2].clear.for"],
    [["metrics", "drain time"], 'metrics["drain time"]'],
    [[], ""],
  ] as const)("%j → %s", (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});
