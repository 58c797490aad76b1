import { z } from "zod";
import { createAbsenceEvaluator } from "./absence-evaluator.js";
import { createAggregateEvaluator } from "./aggregate-evaluator.js";
import { createAnomalyEvaluator } from "./anomaly-evaluator.js";
import { createCompositeEvaluator } from "./composite-evaluator.js";
import { isOverridable, type Condition } from "./condition-schema.js";
import { createCountEvaluator } from "./count-evaluator.js";
import type { Evidence } from "./evidence.js";
import type { Observation } from "./observation.js";
import { createRateEvaluator } from "./rate-evaluator.js";
import { compileSelector, type DeviceSelector } from "./rule-selection.js";
import { ruleDocumentSchema, type RuleDocument, type Severity } from "./rule-schema.js";
import { createThresholdEvaluator } from "./threshold-evaluator.js";
import { createTrendEvaluator } from "./trend-evaluator.js";

/** A stored rule version as the engine receives it: a validated document and its version. */
export const ruleInputSchema = z.object({
  rule: ruleDocumentSchema,
  version: z.number().int().nonnegative(),
});
export type RuleInput = z.output<typeof ruleInputSchema>;

/**
 * How one condition kind runs over one device's observations, in event-time order.
 *
 * `step` applies an observation (any kind; each evaluator ignores what does not bear on it),
 * may mutate the state and returns whether the condition holds now. The engine fires on the
 * transition to holding, once per episode, and only then asks for `evidence`. Kinds that can
 * start to hold with no data arriving (absence) also expose `deadline`, the event time at which
 * that could next happen, and `advance`, which moves their clock to a watermark.
 */
export type ConditionEvaluator<State = unknown, E extends Evidence = Evidence> = {
  /** `startedAt`: the device's event time when this rule starts watching it, if known. */
  initialState(startedAt?: number): State;
  step(state: State, observation: Observation): boolean;
  evidence(state: State): E;
  deadline?(state: State): number;
  advance?(state: State, at: number): boolean;
};

/** The rule as written (index 0) or as tightened by one of its per-customer overrides. */
export type RuleVariant = Readonly<{ evaluator: ConditionEvaluator; severity: Severity }>;

export type CompiledRule = Readonly<{
  /** `id@version`: rule state survives a rule-set swap only under the same key. */
  key: string;
  rule: RuleInput["rule"];
  version: number;
  /** The condition as written; the same as `variants[0].evaluator`. */
  evaluator: ConditionEvaluator;
  /** `[0]` the rule as written, then one per entry of `rule.overrides`, in order. */
  variants: readonly RuleVariant[];
  selects: DeviceSelector;
  /** Whether the rule needs the engine's clock (`advanceTo`) as well as observations. */
  timed: boolean;
}>;

export function ruleKey(ruleId: string, version: number): string {
  return `${ruleId}@${version}`;
}

export function compileCondition(condition: Condition): ConditionEvaluator {
  switch (condition.kind) {
    case "threshold":
      return createThresholdEvaluator(condition);
    case "count":
      return createCountEvaluator(condition);
    case "rate":
      return createRateEvaluator(condition);
    case "trend":
      return createTrendEvaluator(condition);
    case "absence":
      return createAbsenceEvaluator(condition);
    case "aggregate":
      return createAggregateEvaluator(condition);
    case "anomaly":
      return createAnomalyEvaluator(condition);
    case "all":
    case "any":
      return createCompositeEvaluator(condition.kind, condition.of.map(compileCondition));
    default:
      // Adding a member to conditionSchema without an evaluator fails type-checking here.
      return unreachable(condition);
  }
}

function unreachable(condition: never): never {
  throw new TypeError(`no evaluator for condition ${JSON.stringify(condition)}`);
}

/** An override's `value` replaces the condition's top-level limit (validation refuses others). */
function overriddenCondition(when: Condition, value: number | undefined): Condition {
  return value !== undefined && isOverridable(when) ? { ...when, value } : when;
}

function compileVariants(rule: RuleDocument, base: ConditionEvaluator): RuleVariant[] {
  const variants: RuleVariant[] = [{ evaluator: base, severity: rule.severity }];
  for (const o of rule.overrides ?? []) {
    variants.push({
      evaluator: o.value === undefined ? base : compileCondition(overriddenCondition(rule.when, o.value)),
      severity: o.severity ?? rule.severity,
    });
  }
  return variants;
}

export function compileRule(input: RuleInput): CompiledRule {
  const evaluator = compileCondition(input.rule.when);
  return Object.freeze({
    key: ruleKey(input.rule.id, input.version),
    rule: input.rule,
    version: input.version,
    evaluator,
    variants: Object.freeze(compileVariants(input.rule, evaluator)),
    selects: compileSelector(input.rule.select),
    timed: evaluator.deadline !== undefined,
  });
}

export function isCompiledRule(rule: CompiledRule | RuleInput): rule is CompiledRule {
  return "evaluator" in rule;
}
