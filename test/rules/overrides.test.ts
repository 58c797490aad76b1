import { describe, expect, it } from "vitest";
import type { DeviceInfo } from "../../rules/observation.js";
import { globToRegExp } from "../../rules/rule-selection.js";
import { minutesOf, reading, run, washerRule, washerRuleWith } from "./fixtures.js";

const drainOf = (minute: number, value: number, deviceId: string, device?: DeviceInfo) =>
  reading(minute, { drain_time_s: value }, { deviceId, ...(device ? { device } : {}) });

describe("per-customer overrides", () => {
  const rule = washerRule({
    overrides: [
      { tags: ["vip", "elderly"], value: 100, severity: "critical" },
      { tags: ["vip"], value: 50 },
      { tags: ["warranty-gold"], severity: "minor" },
    ],
  });

  it.each([
    { tags: undefined, value: 110, fires: false, severity: undefined, limit: undefined },
    { tags: ["standard"], value: 130, fires: true, severity: "major", limit: 120 },
    { tags: ["elderly"], value: 110, fires: true, severity: "critical", limit: 100 },
    { tags: ["vip"], value: 60, fires: false, severity: undefined, limit: undefined }, // the first matching override wins
    { tags: ["warranty-gold"], value: 110, fires: false, severity: undefined, limit: undefined },
    { tags: ["warranty-gold"], value: 130, fires: true, severity: "minor", limit: 120 },
  ])("tags $tags, reading $value → fires $fires", ({ tags, value, fires, severity, limit }) => {
    const detections = run([rule], [drainOf(0, value, "wm-A", tags ? { customerTags: tags } : undefined)]);
    expect(detections.length).toBe(fires ? 1 : 0);
    if (fires) expect(detections[0]).toMatchObject({ severity, evidence: { limit } });
  });

  it("tightens a rate limit the same way", () => {
    const rate = washerRuleWith(
      { kind: "rate", metric: "drain_time_s", op: ">", value: 60, over: "1h" },
      { overrides: [{ tags: ["vip"], value: 6 }] },
    );
    const rising = (deviceId: string, device?: DeviceInfo) => [0, 10, 20].map((m) => drainOf(m, 100 + m, deviceId, device));
    expect(run([rate], rising("wm-A"))).toEqual([]);
    expect(minutesOf(run([rate], rising("wm-B", { customerTags: ["vip"] })))).toEqual([10]);
  });

  it("restarts the rule's state when a device moves to an override with another limit", () => {
    const tenMinutes = washerRule({ when: { for: "10m" }, overrides: [{ tags: ["vip"], value: 110 }] });
    const detections = run([tenMinutes], [
      drainOf(0, 130, "wm-A", { customerTags: [] }),
      drainOf(5, 130, "wm-A", { customerTags: ["vip"] }),
      drainOf(10, 130, "wm-A"),
      drainOf(15, 130, "wm-A"),
    ]);
    expect(minutesOf(detections)).toEqual([15]);
  });

  it("keeps the state when only the severity differs", () => {
    const tenMinutes = washerRule({ when: { for: "10m" }, overrides: [{ tags: ["vip"], severity: "critical" }] });
    const detections = run([tenMinutes], [drainOf(0, 130, "wm-A"), drainOf(5, 130, "wm-A", { customerTags: ["vip"] }), drainOf(10, 130, "wm-A")]);
    expect(detections.map((d) => [minutesOf([d])[0], d.severity])).toEqual([[10, "critical"]]);
  });
});

describe("selectors", () => {
  const selective = (select: Record<string, unknown>) => washerRule({ select });

  it.each([
    { select: { models: ["WM-8*"] }, device: { model: "WM-8" }, selected: true },
    { select: { models: ["WM-8*"] }, device: { model: "WM-80X" }, selected: true },
    { select: { models: ["WM-8*"] }, device: { model: "WM-9" }, selected: false },
    { select: { models: ["WM-8?"] }, device: { model: "WM-8" }, selected: false },
    { select: { models: ["WM-7", "WM-8*"] }, device: { model: "WM-7" }, selected: true },
    { select: { firmware: ["1.2.*"] }, device: { firmware: "1.2.9" }, selected: true },
    { select: { firmware: ["1.2.*"] }, device: { firmware: "1.20.1" }, selected: false },
    { select: { customerTags: ["elderly"] }, device: { customerTags: ["vip", "elderly"] }, selected: true },
    { select: { customerTags: ["elderly"] }, device: { customerTags: ["vip"] }, selected: false },
    { select: { models: ["WM-8*"], firmware: ["1.2.*"] }, device: { model: "WM-8", firmware: "1.3.0" }, selected: false },
    { select: { models: ["WM-8*"] }, device: undefined, selected: false },
    { select: { models: ["WM-8*"] }, device: { firmware: "1.2.0" }, selected: false },
  ])("$select on $device → $selected", ({ select, device, selected }) => {
    const detections = run([selective(select)], [drainOf(0, 130, "wm-A", device)]);
    expect(detections.length).toBe(selected ? 1 : 0);
  });

  it("remembers a device's model from an earlier observation, and follows a firmware update", () => {
    const rule = selective({ firmware: ["1.2.*"] });
    const detections = run([rule], [
      drainOf(0, 130, "wm-A", { model: "WM-8", firmware: "1.2.0" }),
      drainOf(1, 100, "wm-A"),
      drainOf(2, 130, "wm-A"),
      drainOf(3, 100, "wm-A", { model: "WM-8", firmware: "2.0.0" }),
      drainOf(4, 130, "wm-A"),
    ]);
    expect(minutesOf(detections)).toEqual([0, 2]);
  });

  it("treats every other character in a glob literally", () => {
    expect(globToRegExp("WM-8.(x)+").test("WM-8.(x)+")).toBe(true);
    expect(globToRegExp("WM-8.(x)+").test("WM-8a(x)")).toBe(false);
  });
});
