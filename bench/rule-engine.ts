/**
 * Rule-engine benchmark: the engine alone, no broker, no database. Prints rule evaluations per
 * second per condition kind on one core, bytes of rule state per device per rule, and whether
 * that state grows as simulated time runs on. A benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:rules -- [--devices 10000] [--rules 10] [--readings 100]
 *
 * Last, the default catalogue's washer rules on one engine, as the gateway's rule runner runs its
 * running set, against an engine per rule (as it did until 2dfe022), per reading.
 *
 * Memory is read from `process.memoryUsage()` (heapUsed + arrayBuffers) after a full collection, so the script
 * re-executes itself under `node --expose-gc --import tsx` when `gc` is not available.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createRuleEngine } from "../rules/engine.js";
import type { Observation } from "../rules/observation.js";
import { ruleDocumentSchema } from "../rules/rule-schema.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  const args = ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  process.exit(spawnSync(process.execPath, args, { stdio: "inherit" }).status ?? 1);
}

const { values: flags } = parseArgs({
  options: {
    devices: { type: "string", default: "10000" },
    rules: { type: "string", default: "10" },
    readings: { type: "string", default: "50" },
  },
});
const DEVICES = Number(flags.devices);
const RULES = Number(flags.rules);
const READINGS = Number(flags.readings);
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1);

// Windows of 20 minutes with a reading a minute fill all 20 buckets of every window within 40
// readings (an anomaly's two windows included): the largest state a windowed rule can have,
// whatever the window's length.
type Kind = { name: string; when: (i: number) => Record<string, unknown>; eventShare?: number; clock?: boolean };
const KINDS: Kind[] = [
  { name: "threshold", when: (i) => ({ kind: "threshold", metric: "temp", op: ">", value: 60 + i, for: "10m" }) },
  { name: "count", when: (i) => ({ kind: "count", codes: ["E1", "E2"], atLeast: 3 + (i % 3), within: "20m" }), eventShare: 0.3 },
  { name: "rate", when: (i) => ({ kind: "rate", metric: "temp", op: ">", value: 100 + i, over: "20m" }) },
  { name: "trend", when: (i) => ({ kind: "trend", metric: "temp", op: ">", value: 200 + i, within: "7d", over: "20m" }) },
  { name: "absence", when: (i) => ({ kind: "absence", for: `${5 + i}m`, ignoreWhenPoweredOff: true }), clock: true },
  { name: "aggregate avg", when: (i) => ({ kind: "aggregate", metric: "temp", fn: "avg", over: "20m", op: ">", value: 55 + i }) },
  { name: "aggregate max", when: (i) => ({ kind: "aggregate", metric: "temp", fn: "max", over: "20m", op: ">", value: 85 + i }) },
  { name: "aggregate p95", when: (i) => ({ kind: "aggregate", metric: "temp", fn: "p95", over: "20m", op: ">", value: 80 + i }) },
  { name: "anomaly", when: (i) => ({ kind: "anomaly", metric: "temp", baseline: "20m", over: "20m", z: 3 + i / 10, direction: "both" }) },
  {
    name: "all/any",
    when: (i) => ({
      kind: i % 2 ? "all" : "any",
      of: [{ kind: "threshold", metric: "temp", op: ">", value: 70 + i }, { kind: "count", codes: ["E1"], atLeast: 2, within: "20m" }],
    }),
    eventShare: 0.1,
  },
];

const rulesOf = (kind: Kind | undefined, count: number) =>
  Array.from({ length: kind ? count : 0 }, (_, i) => ({
    version: 1,
    rule: ruleDocumentSchema.parse({
      id: `bench-${kind!.name.replace(/\W+/g, "-")}-${i}`,
      name: "bench",
      deviceType: "washer",
      severity: "minor",
      ticket: { problem: `p-${i}`, title: "bench" },
      when: kind!.when(i),
    }),
  }));

const deviceIds = Array.from({ length: DEVICES }, (_, d) => `wm-${d}`);

// Deterministic, cheap, and noisy enough that conditions start and stop holding now and then.
function observation(d: number, minute: number, eventShare: number): Observation {
  const ts = T0 + minute * MINUTE + d;
  const noise = (d * 7919 + minute * 104_729) % 41;
  if (eventShare > 0 && noise < 41 * eventShare) {
    return { kind: "event", deviceId: deviceIds[d]!, deviceType: "washer", ts, code: noise % 2 ? "E1" : "E2" };
  }
  return { kind: "telemetry", deviceId: deviceIds[d]!, deviceType: "washer", ts, metrics: { temp: 40 + noise } };
}

// Synchronous on purpose: a suspended async function keeps its locals (an engine) reachable.
// arrayBuffers is added in case some state ever lives in typed arrays, stored off the JS heap.
function heapAfterGc(): number {
  gc!();
  gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Runs `readings` minutes for `devices` devices; returns evaluations/s and the heap with the
 * engine still alive. The caller weighs the heap again once this frame (and the engine) is gone.
 */
function drive(kind: Kind | undefined, devices: number, rules: number, readings: number) {
  const engine = createRuleEngine(rulesOf(kind, rules));
  let detections = 0;
  const start = process.hrtime.bigint();
  for (let minute = 0; minute < readings; minute++) {
    for (let d = 0; d < devices; d++) {
      detections += engine.evaluate(observation(d, minute, kind?.eventShare ?? 0)).detections.length;
    }
    if (kind?.clock) detections += engine.advanceTo(T0 + minute * MINUTE).length;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const withEngine = heapAfterGc();
  if (engine.deviceCount() !== devices) throw new Error("every device should have been seen");
  const evaluations = devices * readings * Math.max(rules, 1);
  return { evaluations, seconds, perSecond: evaluations / seconds, withEngine, detections };
}

/** Bytes the engine of a `drive` retained: the heap with it minus the heap without it. */
function measure(...args: Parameters<typeof drive>) {
  const result = drive(...args);
  return { ...result, bytes: result.withEngine - heapAfterGc() };
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
const pad = (s: string, n: number) => s.padStart(n);

console.log(
  `rule engine: ${fmt(DEVICES)} devices × ${RULES} rules of one kind, ${READINGS} readings per device ` +
    `(one a minute), node ${process.version}, one core\n`,
);

// Per-device overhead without rules, to separate rule state from the engine's own bookkeeping;
// measured twice so one-time costs (compiled code, inline caches) are not counted per device.
measure(undefined, DEVICES, 0, 3);
const empty = measure(undefined, DEVICES, 0, 3);
const perDevice = empty.bytes / DEVICES;
const noop = measure(undefined, DEVICES, 1, READINGS);
console.log(
  `no-op loop (engine without rules, same observations): ${fmt(noop.perSecond)} observations/s; ` +
    `${fmt(perDevice)} B per device\n`,
);
console.log(`${"kind".padEnd(14)}${pad("evals/s", 12)}${pad("vs threshold", 14)}${pad("B/device/rule", 15)}${pad("detections", 12)}`);

let totalEvaluations = 0;
let totalSeconds = 0;
let baseline = 0;
let worstWindowed = 0;
for (const kind of KINDS) {
  const r = measure(kind, DEVICES, RULES, READINGS);
  if (kind.name === "threshold") baseline = r.perSecond;
  const stateBytes = (r.bytes - perDevice * DEVICES) / (DEVICES * RULES);
  if (!["threshold", "absence", "count", "all/any"].includes(kind.name)) worstWindowed = Math.max(worstWindowed, stateBytes);
  totalEvaluations += r.evaluations;
  totalSeconds += r.seconds;
  console.log(
    `${kind.name.padEnd(14)}${pad(fmt(r.perSecond), 12)}${pad(`${(r.perSecond / baseline).toFixed(2)}x`, 14)}` +
      `${pad(fmt(stateBytes), 15)}${pad(fmt(r.detections), 12)}`,
  );
}
const overall = totalEvaluations / totalSeconds;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
console.log(
  `\noverall: ${fmt(overall)} evaluations/s (${fmt(totalEvaluations)} in ${totalSeconds.toFixed(1)} s); ` +
    `target ≥ 500,000: ${verdict(overall >= 500_000)}`,
);
console.log(
  `largest windowed rule state: ${fmt(worstWindowed)} B per device per rule; ` +
    `target < 2,048: ${verdict(worstWindowed < 2048)}`,
);

// Growth: one rule of every kind on fewer devices, measured as simulated time runs on.
const GROWTH_DEVICES = Math.min(1000, DEVICES);
console.log(`\nstate over time: ${fmt(GROWTH_DEVICES)} devices × ${KINDS.length} rules (one per kind), windows of 20 minutes`);
const mixed = KINDS.flatMap((k) => rulesOf(k, 1));
const before = heapAfterGc();
const engine = createRuleEngine(mixed);
let minute = 0;
for (const upTo of [40, 200, 600, 1200]) {
  for (; minute < upTo; minute++) {
    for (let d = 0; d < GROWTH_DEVICES; d++) engine.evaluate(observation(d, minute, 0.2));
    engine.advanceTo(T0 + minute * MINUTE);
  }
  const bytes = (heapAfterGc() - before - perDevice * GROWTH_DEVICES) / (GROWTH_DEVICES * KINDS.length);
  console.log(`  after ${pad(fmt(upTo), 5)} minutes (${pad(fmt(upTo / 20), 3)} windows): ${pad(fmt(bytes), 6)} B per device per rule`);
}
if (engine.deviceCount() !== GROWTH_DEVICES) throw new Error("every device should have been seen");

// The default catalogue's washer rules as the gateway runs them: one engine for all, against one
// engine per rule, each looking the device up, clocking and scheduling it on its own.
const washerRules = (JSON.parse(readFileSync(new URL("../catalogue/rules/washer.json", import.meta.url), "utf8")) as unknown[])
  .map((rule) => ({ version: 1, rule: ruleDocumentSchema.parse(rule) }));
function washerReading(d: number, minute: number): Observation {
  const noise = (d * 7919 + minute * 104_729) % 41;
  return {
    kind: "telemetry", deviceId: deviceIds[d]!, deviceType: "washer", ts: T0 + minute * MINUTE + d,
    metrics: { drain_time_s: 40 + noise, motor_current_a: 4 + (noise % 7), water_temp_c: 30 + noise },
  };
}
function nsPerReading(engines: ReturnType<typeof createRuleEngine>[], readings: number): number {
  const start = process.hrtime.bigint();
  for (let minute = 0; minute < readings; minute++) {
    for (let d = 0; d < DEVICES; d++) {
      const o = washerReading(d, minute);
      for (const engine of engines) engine.evaluate(o, o.ts);
    }
  }
  return Number(process.hrtime.bigint() - start) / (readings * DEVICES);
}
console.log(`\nthe catalogue's ${washerRules.length} washer rules, ${fmt(DEVICES)} devices, ${READINGS} readings each (ns a reading):`);
for (let round = 1; round <= 3; round++) {
  const one = nsPerReading([createRuleEngine(washerRules)], READINGS);
  const each = nsPerReading(washerRules.map((r) => createRuleEngine([r])), READINGS);
  console.log(`  round ${round}: one engine ${fmt(one)}, an engine per rule ${fmt(each)}: ${(one / each).toFixed(2)} × the time`);
}
