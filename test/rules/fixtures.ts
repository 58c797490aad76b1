import type { Detection } from "../../rules/detection.js";
import { createRuleEngine } from "../../rules/engine.js";
import type { Observation } from "../../rules/observation.js";
import { ruleDocumentSchema, type RuleDocument, type RuleDocumentInput } from "../../rules/rule-schema.js";

// Event time of every test starts here; readings are written in minutes after it.
export const T0 = Date.UTC(2024, 0, 1, 8, 0, 0);
export const MINUTE = 60_000;
export const at = (minutes: number): number => T0 + minutes * MINUTE;

type RuleOverrides = Partial<Omit<RuleDocumentInput, "when">> & { when?: Partial<RuleDocumentInput["when"]> };

/** A washer drain rule parsed through the real schema, so fixtures cannot drift from it. */
export function washerRule(overrides: RuleOverrides = {}): RuleDocument {
  const { when, ...rest } = overrides;
  return ruleDocumentSchema.parse({
    id: "washer-drain-slow",
    name: "Drain pump clogging",
    deviceType: "washer",
    severity: "major",
    ticket: { problem: "drain-pump", title: "Drain pump clogging" },
    ...rest,
    when: { kind: "threshold", metric: "drain_time_s", op: ">", value: 120, ...when },
  });
}

export function drain(
  minutes: number,
  value: number,
  { deviceId = "wm-0001", deviceType = "washer" } = {},
): Observation {
  return {
    kind: "telemetry",
    deviceId,
    deviceType,
    ts: at(minutes),
    metrics: { drain_time_s: value },
  };
}

export function otherMetric(minutes: number, deviceId = "wm-0001"): Observation {
  return { kind: "telemetry", deviceId, deviceType: "washer", ts: at(minutes), metrics: { spin_rpm: 1200 } };
}

/** The part of a detection the threshold table speaks about, with times back in minutes. */
export function summarize(d: Detection) {
  if (d.evidence.kind !== "threshold") throw new Error(`unexpected evidence ${d.evidence.kind}`);
  const { value, since, heldMs, readings, min, max } = d.evidence;
  return {
    at: (d.detectedAt - T0) / MINUTE,
    value,
    since: (since - T0) / MINUTE,
    heldMin: heldMs / MINUTE,
    readings,
    min,
    max,
  };
}

type DeviceOptions = { deviceId?: string; deviceType?: string; device?: Observation["device"] };

/** Any rule for the washer, parsed through the real schema; `when` is given whole. */
export function washerRuleWith(
  when: Record<string, unknown>,
  overrides: Partial<Omit<RuleDocumentInput, "when">> & Record<string, unknown> = {},
): RuleDocument {
  return ruleDocumentSchema.parse({
    id: "washer-rule",
    name: "Washer rule",
    deviceType: "washer",
    severity: "major",
    ticket: { problem: "washer-problem", title: "Washer problem" },
    ...overrides,
    when,
  });
}

export function reading(
  minutes: number,
  metrics: Record<string, number>,
  { deviceId = "wm-0001", deviceType = "washer", device }: DeviceOptions = {},
): Observation {
  return { kind: "telemetry", deviceId, deviceType, ts: at(minutes), metrics, ...(device ? { device } : {}) };
}

export function event(minutes: number, code: string, { deviceId = "wm-0001", deviceType = "washer" }: DeviceOptions = {}): Observation {
  return { kind: "event", deviceId, deviceType, ts: at(minutes), code };
}

export function status(
  minutes: number,
  value: "online" | "offline" | "powered_off",
  { deviceId = "wm-0001", deviceType = "washer" }: DeviceOptions = {},
): Observation {
  return { kind: "status", deviceId, deviceType, ts: at(minutes), status: value };
}

/** Feeds observations one by one and returns every detection, as the gateway would see them. */
export function run(rules: RuleDocument[], observations: Observation[], options: { allowedLatenessMs?: number } = {}) {
  const engine = createRuleEngine(
    rules.map((rule) => ({ rule, version: 1 })),
    options,
  );
  return observations.flatMap((o) => engine.evaluate(o).detections);
}

/** When each detection happened, in minutes after T0. */
export const minutesOf = (detections: readonly Detection[]) => detections.map((d) => (d.detectedAt - T0) / MINUTE);
