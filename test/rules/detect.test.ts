import { firstValueFrom, from, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { detect } from "../../rules/detect.js";
import { createRuleEngine } from "../../rules/engine.js";
import { detectionSchema, type Detection } from "../../rules/detection.js";
import type { Observation } from "../../rules/observation.js";
import { drain, event, MINUTE, otherMetric, reading, status, T0, washerRule, washerRuleWith } from "./fixtures.js";

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

describe("detect operator, property-style", () => {
  // A small deterministic PRNG (mulberry32) so a failure names its seed and replays exactly.
  const prng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const when = [
    { kind: "threshold", metric: "drain_time_s", op: ">", value: 120, for: "5m", clear: { op: "<", value: 100 } },
    { kind: "count", codes: ["E21", "E22"], atLeast: 2, within: "10m" },
    { kind: "rate", metric: "drain_time_s", op: ">", value: 30, over: "20m" },
    { kind: "trend", metric: "drain_time_s", op: ">", value: 200, within: "2h", over: "30m", minR2: 0.2 },
    { kind: "absence", for: "15m", ignoreWhenPoweredOff: true },
    { kind: "any", of: [{ kind: "threshold", metric: "spin_rpm", op: "<", value: 600 }, { kind: "count", codes: ["E50"], atLeast: 1, within: "5m" }] },
  ];
  const rules = when.map((w, i) => ({ rule: washerRuleWith(w, { id: `rule-${i}` }), version: 1 }));

  function randomStream(seed: number): Observation[] {
    const random = prng(seed);
    const out: Observation[] = [];
    let minute = 0;
    for (let i = 0; i < 400; i++) {
      minute += random() < 0.05 ? 20 : random() * 2;
      // Some observations arrive up to 6 minutes out of order.
      const ts = minute - (random() < 0.15 ? random() * 6 : 0);
      const device = { deviceId: `wm-${Math.floor(random() * 4)}` };
      const roll = random();
      if (roll < 0.6) out.push(reading(ts, random() < 0.5 ? { drain_time_s: 80 + random() * 80 } : { spin_rpm: 400 + random() * 1000 }, device));
      else if (roll < 0.9) out.push(event(ts, ["E21", "E22", "E50", "E99"][Math.floor(random() * 4)]!, device));
      else out.push(status(ts, (["online", "offline", "powered_off"] as const)[Math.floor(random() * 3)]!, device));
    }
    return out;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])("seed %i: evaluate one by one and the operator agree, with and without lateness and watermarks", async (seed) => {
    const stream = randomStream(seed);
    for (const options of [{}, { allowedLatenessMs: 5 * MINUTE }]) {
      for (const lag of [undefined, 5 * MINUTE]) {
        const direct = createRuleEngine(rules, options);
        const expected: Detection[] = [];
        let newest = Number.NEGATIVE_INFINITY;
        for (const o of stream) {
          expected.push(...direct.evaluate(o).detections);
          if (lag === undefined) continue;
          newest = Math.max(newest, o.ts);
          expected.push(...direct.advanceTo(newest - lag));
        }
        if (lag !== undefined) expected.push(...direct.advanceTo(newest));

        const piped = await firstValueFrom(
          from(stream).pipe(detect(createRuleEngine(rules, options), { watermarkLagMs: lag }), toArray()),
        );
        expect(piped).toEqual(expected);
        expect(expected.every((d) => detectionSchema.safeParse(d).success)).toBe(true);
      }
    }
    // The streams are rich enough to exercise every rule at least somewhere.
    const all = await firstValueFrom(from(stream).pipe(detect(createRuleEngine(rules), { watermarkLagMs: 0 }), toArray()));
    expect(new Set(all.map((d) => d.evidence.kind)).size).toBeGreaterThanOrEqual(4);
  });
});
