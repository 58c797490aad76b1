import { compileRule, isCompiledRule, type CompiledRule, type RuleInput } from "./compile-rule.js";
import type { Detection, Evidence } from "./detection.js";
import type { Observation } from "./observation.js";

export type RuleEngineOptions = {
  /**
   * How far behind the newest event time seen for a device an observation may be and still be
   * evaluated. 0 (the default) evaluates only observations in event-time order; within a
   * non-zero allowance observations are evaluated in arrival order, not re-sorted.
   */
  allowedLatenessMs?: number;
};

export type EvaluationResult = { detections: Detection[]; late: boolean };

type DeviceState = {
  maxTs: number;
  /** Condition state by rule key; only keys of the current rule set survive `setRules`. */
  rules: Map<string, unknown>;
};

export type RuleEngine = ReturnType<typeof createRuleEngine>;

export function createRuleEngine(
  rules: readonly (CompiledRule | RuleInput)[],
  options: RuleEngineOptions = {},
) {
  const allowedLatenessMs = options.allowedLatenessMs ?? 0;
  const devices = new Map<string, DeviceState>();
  let rulesByType = indexByDeviceType(rules);

  function evaluate(observation: Observation): EvaluationResult {
    let device = devices.get(observation.deviceId);
    if (device && observation.ts < device.maxTs - allowedLatenessMs) {
      // Too late to apply without rewriting history the windows have already moved past;
      // the caller decides whether to count or store it.
      return { detections: [], late: true };
    }
    if (!device) {
      device = { maxTs: observation.ts, rules: new Map() };
      devices.set(observation.deviceId, device);
    } else {
      device.maxTs = Math.max(device.maxTs, observation.ts);
    }

    const detections: Detection[] = [];
    for (const compiled of rulesByType.get(observation.deviceType) ?? []) {
      let state = device.rules.get(compiled.key);
      if (state === undefined) {
        state = compiled.evaluator.initialState();
        device.rules.set(compiled.key, state);
      }
      const evidence = compiled.evaluator.step(state, observation);
      if (evidence) detections.push(toDetection(compiled, observation, evidence));
    }
    return { detections, late: false };
  }

  function setRules(next: readonly (CompiledRule | RuleInput)[]): void {
    rulesByType = indexByDeviceType(next);
    const live = new Set([...rulesByType.values()].flat().map((r) => r.key));
    for (const device of devices.values()) {
      for (const key of device.rules.keys()) {
        if (!live.has(key)) device.rules.delete(key);
      }
    }
  }

  return {
    evaluate,
    setRules,
    /** Forget a device, e.g. when it moves to another gateway instance or is deregistered. */
    resetDevice(deviceId: string): void {
      devices.delete(deviceId);
    },
    deviceCount(): number {
      return devices.size;
    },
  };
}

function indexByDeviceType(
  rules: readonly (CompiledRule | RuleInput)[],
): Map<string, CompiledRule[]> {
  const byType = new Map<string, CompiledRule[]>();
  const seen = new Set<string>();
  for (const input of rules) {
    const compiled = isCompiledRule(input) ? input : compileRule(input);
    // Two documents under one key would share state and make detections depend on list order.
    if (seen.has(compiled.key)) throw new Error(`duplicate rule version ${compiled.key}`);
    seen.add(compiled.key);
    if (compiled.rule.mode === "disabled") continue;
    const forType = byType.get(compiled.rule.deviceType) ?? [];
    forType.push(compiled);
    byType.set(compiled.rule.deviceType, forType);
  }
  return byType;
}

function toDetection(
  compiled: CompiledRule,
  observation: Observation,
  evidence: Evidence,
): Detection {
  const { rule } = compiled;
  return {
    ruleId: rule.id,
    ruleVersion: compiled.version,
    mode: rule.mode === "shadow" ? "shadow" : "active",
    deviceId: observation.deviceId,
    deviceType: observation.deviceType,
    problem: rule.ticket.problem,
    ticketType: rule.ticket.type,
    title: rule.ticket.title,
    severity: rule.severity,
    notifyCustomer: rule.notifyCustomer,
    detectedAt: observation.ts,
    evidence,
  };
}
