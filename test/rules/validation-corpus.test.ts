import { describe, expect, it } from "vitest";
import { validateRule } from "../../rules/validate-rule.js";

const catalogue = {
  metricsOf: (type: string) => (type === "washer" ? ["drain_time_s", "spin_rpm", "water_temp_c"] : undefined),
  eventCodesOf: (type: string) => (type === "washer" ? ["E21", "E22", "E50", "maintenance"] : undefined),
};

const base = {
  id: "washer-rule",
  name: "Washer rule",
  deviceType: "washer",
  severity: "major",
  ticket: { problem: "washer-problem", title: "Washer problem" },
};
const slowDrain = { kind: "threshold", metric: "drain_time_s", op: ">", value: 120 };
const errors = { kind: "count", codes: ["E21"], atLeast: 3, within: "10m" };
const silence = { kind: "absence", for: "1h" };
const doc = (when: unknown, extra: Record<string, unknown> = {}) => ({ ...base, when, ...extra });

// Each bad document and every path it must be refused at; messages are spot-checked below.
const corpus: [name: string, document: unknown, paths: string[]][] = [
  ["count without codes", doc({ kind: "count", atLeast: 3, within: "10m" }), ["when.codes"]],
  ["count with an empty code list", doc({ ...errors, codes: [] }), ["when.codes"]],
  ["count with an empty code", doc({ ...errors, codes: ["E21", ""] }), ["when.codes[1]"]],
  ["count with an unknown code", doc({ ...errors, codes: ["E21", "E2l"] }), ["when.codes[1]"]],
  ["count atLeast 0", doc({ ...errors, atLeast: 0 }), ["when.atLeast"]],
  ["count atLeast fractional", doc({ ...errors, atLeast: 2.5 }), ["when.atLeast"]],
  ["count within 0", doc({ ...errors, within: "0s" }), ["when.within"]],
  ["rate without a window", doc({ kind: "rate", metric: "water_temp_c", op: ">", value: 5 }), ["when.over"]],
  ["rate with minPoints 1", doc({ kind: "rate", metric: "water_temp_c", op: ">", value: 5, over: "1h", minPoints: 1 }), ["when.minPoints"]],
  ["rate on a misspelt metric", doc({ kind: "rate", metric: "water_tmp_c", op: ">", value: 5, over: "1h" }), ["when.metric"]],
  ["trend with ==", doc({ kind: "trend", metric: "drain_time_s", op: "==", value: 180, within: "7d", over: "1d" }), ["when.op"]],
  ["trend with a zero horizon", doc({ kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: 0, over: "1d" }), ["when.within"]],
  ["trend with r² above 1", doc({ kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: "7d", over: "1d", minR2: 1.5 }), ["when.minR2"]],
  ["trend without value or window", doc({ kind: "trend", metric: "drain_time_s", op: ">", within: "7d" }), ["when.value", "when.over"]],
  ["absence without for", doc({ kind: "absence" }), ["when.for"]],
  ["absence with a non-boolean flag", doc({ ...silence, ignoreWhenPoweredOff: "yes" }), ["when.ignoreWhenPoweredOff"]],
  ["absence with a metric", doc({ ...silence, metric: "drain_time_s" }), ["when.metric"]],
  ["all with no members", doc({ kind: "all", of: [] }), ["when.of"]],
  ["all without of", doc({ kind: "all" }), ["when.of"]],
  ["all with a misspelt metric in its second member", doc({ kind: "all", of: [slowDrain, { ...slowDrain, metric: "drian_time_s" }] }), ["when.of[1].metric"]],
  ["any with an unknown member kind", doc({ kind: "any", of: [{ kind: "treshold", metric: "drain_time_s" }, silence] }), ["when.of[0].kind"]],
  ["any with a member missing its kind", doc({ kind: "any", of: [silence, { metric: "drain_time_s" }] }), ["when.of[1].kind"]],
  ["nested composite with a bad duration", doc({ kind: "all", of: [{ kind: "any", of: [slowDrain, { ...errors, within: "10 minutes" }] }] }), ["when.of[0].of[1].within"]],
  ["member threshold whose clear overlaps", doc({ kind: "any", of: [silence, { ...slowDrain, clear: { op: "<", value: 125 } }] }), ["when.of[1].clear"]],
  ["override of value on an absence rule", doc(silence, { overrides: [{ tags: ["vip"], value: 10 }] }), ["overrides[0].value"]],
  ["override that sets nothing", doc(slowDrain, { overrides: [{ tags: ["vip"] }] }), ["overrides[0]"]],
  ["override whose value makes clear overlap", doc({ ...slowDrain, clear: { op: "<", value: 100 } }, { overrides: [{ tags: ["vip"], value: 90 }] }), ["overrides[0].value"]],
  ["override without tags", doc(slowDrain, { overrides: [{ tags: [], value: 100 }] }), ["overrides[0].tags"]],
  ["override with an unknown severity", doc(slowDrain, { overrides: [{ tags: ["vip"], severity: "urgent" }] }), ["overrides[0].severity"]],
  ["override with an unknown field", doc(slowDrain, { overrides: [{ tags: ["vip"], limit: 100 }] }), ["overrides[0].limit"]],
  ["selector with no models", doc(slowDrain, { select: { models: [] } }), ["select.models"]],
  ["selector with a misspelt field", doc(slowDrain, { select: { model: ["WM-8*"] } }), ["select.model"]],
  ["selector with an empty firmware pattern", doc(slowDrain, { select: { firmware: [""] } }), ["select.firmware[0]"]],
  ["aggregate with an unknown function", doc({ kind: "aggregate", metric: "water_temp_c", fn: "mean", over: "6h", op: ">", value: 80 }), ["when.fn"]],
  ["aggregate without a window", doc({ kind: "aggregate", metric: "water_temp_c", fn: "avg", op: ">", value: 80 }), ["when.over"]],
  ["aggregate with minPoints 0", doc({ kind: "aggregate", metric: "water_temp_c", fn: "p95", over: "6h", op: ">", value: 80, minPoints: 0 }), ["when.minPoints"]],
  ["anomaly sideways", doc({ kind: "anomaly", metric: "spin_rpm", baseline: "14d", over: "12h", z: 3, direction: "sideways" }), ["when.direction"]],
  ["anomaly with z 0", doc({ kind: "anomaly", metric: "spin_rpm", baseline: "14d", over: "12h", z: 0, direction: "up" }), ["when.z"]],
  ["anomaly with a baseline shorter than its window", doc({ kind: "anomaly", metric: "spin_rpm", baseline: "6h", over: "12h", z: 3, direction: "up" }), ["when.baseline"]],
  ["anomaly with minBaseline 1 inside any", doc({ kind: "any", of: [silence, { kind: "anomaly", metric: "spin_rpm", baseline: "14d", over: "12h", z: 3, direction: "up", minBaseline: 1 }] }), ["when.of[1].minBaseline"]],
  ["override of value on an anomaly rule", doc({ kind: "anomaly", metric: "spin_rpm", baseline: "14d", over: "12h", z: 3, direction: "up" }, { overrides: [{ tags: ["vip"], value: 2 }] }), ["overrides[0].value"]],
  [
    "several problems in one composite",
    doc({ kind: "all", of: [{ ...slowDrain, metric: "spin_rmp" }, { ...errors, codes: ["E99"] }, { kind: "trend", metric: "drain_time_s", op: ">", value: 1, within: "-1h", over: "1d" }] }),
    ["when.of[0].metric", "when.of[1].codes[0]", "when.of[2].within"],
  ],
];

describe("validation corpus", () => {
  it("has at least 25 bad documents", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(25);
  });

  it.each(corpus)("refuses %s at the right path", (_name, document, paths) => {
    const result = validateRule(document, catalogue);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path).sort()).toEqual([...paths].sort());
  });

  it.each([
    [doc({ ...errors, codes: ["E21", "E2l"] }), "when.codes[1]", 'unknown event code "E2l" for device type washer; did you mean E21?'],
    [doc({ ...errors, codes: ["door"] }), "when.codes[0]", 'unknown event code "door" for device type washer; known event codes: E21, E22, E50, maintenance'],
    [doc({ kind: "all", of: [slowDrain, { ...slowDrain, metric: "drian_time_s" }] }), "when.of[1].metric", 'unknown metric "drian_time_s" for device type washer; did you mean drain_time_s?'],
    [doc({ ...errors, atLeast: 0 }), "when.atLeast", "must be a whole number of at least 1"],
    [doc({ ...errors, within: "0s" }), "when.within", "must be longer than 0"],
    [doc({ kind: "trend", metric: "drain_time_s", op: "==", value: 1, within: "7d", over: "1d" }), "when.op", "expected one of > >= < <="],
    [doc(silence, { overrides: [{ tags: ["vip"], value: 10 }] }), "overrides[0].value", "absence conditions have no single value to override; value can be overridden for threshold, rate, trend, aggregate"],
    [doc(slowDrain, { overrides: [{ tags: ["vip"] }] }), "overrides[0]", "sets neither value nor severity"],
    [
      doc({ ...slowDrain, clear: { op: "<", value: 100 } }, { overrides: [{ tags: ["vip"], value: 90 }] }),
      "overrides[0].value",
      "with value 90, the clear condition (< 100) overlaps the trigger (> 90): a reading of 95 would both fire and clear it",
    ],
    [doc({ kind: "any", of: [{ kind: "treshold" }] }), "when.of[0].kind", 'unknown condition kind "treshold"; did you mean threshold?'],
  ])("says what is wrong: %#", (document, path, message) => {
    const result = validateRule(document, catalogue);
    expect(result.ok ? [] : result.problems).toContainEqual({ path, message });
  });

  it.each([
    [{ kind: "count", codes: ["E21"], atLeast: 1, within: "1h" }, {}],
    [{ kind: "rate", metric: "water_temp_c", op: ">", value: 5, over: "1h" }, { minPoints: 2 }],
    [{ kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: "7d", over: "1d" }, { minPoints: 5, minR2: 0.5 }],
    [{ kind: "absence", for: "1h" }, { ignoreWhenPoweredOff: false }],
    [{ kind: "aggregate", metric: "water_temp_c", fn: "avg", over: "6h", op: ">", value: 80, for: "2h" }, { minPoints: 1, for: 7_200_000 }],
    [{ kind: "anomaly", metric: "spin_rpm", baseline: "14d", over: "12h", z: 3, direction: "both" }, { minBaseline: 10 }],
    [{ kind: "all", of: [slowDrain, { kind: "any", of: [silence, errors] }] }, {}],
  ])("accepts %j and fills its defaults", (when, defaults) => {
    const result = validateRule(doc(when), catalogue);
    expect(result.ok ? result.rule.when : result.problems).toMatchObject(defaults);
  });

  it("defaults the ticket type of a trend rule to predicted_failure", () => {
    const result = validateRule(doc({ kind: "trend", metric: "drain_time_s", op: ">", value: 180, within: "7d", over: "1d" }), catalogue);
    expect(result.ok && result.rule.ticket.type).toBe("predicted_failure");
  });

  it("accepts free-form override tags and a catalogue that does not list codes", () => {
    const good = doc(slowDrain, { overrides: [{ tags: ["made-up-tag"], value: 100, severity: "critical" }] });
    expect(validateRule(good, catalogue).ok).toBe(true);
    const anyCode = doc({ kind: "all", of: [slowDrain, { ...errors, codes: ["ANY-CODE"] }] }, { overrides: [{ tags: ["vip"], severity: "critical" }] });
    expect(validateRule(anyCode, { metricsOf: catalogue.metricsOf }).ok).toBe(true);
  });
});
