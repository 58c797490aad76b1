import { z } from "zod";
import type { Evidence } from "./detection.js";
import type { Observation } from "./observation.js";
import { ruleDocumentSchema, type Condition } from "./rule-schema.js";
import { createThresholdEvaluator } from "./threshold-evaluator.js";

/** A stored rule version as the engine receives it: a validated document and its version. */
export const ruleInputSchema = z.object({
  rule: ruleDocumentSchema,
  version: z.number().int().nonnegative(),
});
export type RuleInput = z.output<typeof ruleInputSchema>;

/**
 * How one condition kind runs. `step` may mutate the state it is given and returns evidence
 * exactly when the observation completes a detection.
 */
export type ConditionEvaluator<State = unknown> = {
  initialState(): State;
  step(state: State, observation: Observation): Evidence | undefined;
};

export type CompiledRule = Readonly<{
  /** `id@version`: rule state survives a rule-set swap only under the same key. */
  key: string;
  rule: RuleInput["rule"];
  version: number;
  evaluator: ConditionEvaluator;
}>;

export function ruleKey(ruleId: string, version: number): string {
  return `${ruleId}@${version}`;
}

export function compileCondition(condition: Condition): ConditionEvaluator {
  switch (condition.kind) {
    case "threshold":
      return createThresholdEvaluator(condition);
    default:
      // Adding a member to conditionSchema without an evaluator fails type-checking here.
      return unreachable(condition.kind);
  }
}

function unreachable(kind: never): never {
  throw new TypeError(`no evaluator for condition kind ${JSON.stringify(kind)}`);
}

export function compileRule(input: RuleInput): CompiledRule {
  return Object.freeze({
    key: ruleKey(input.rule.id, input.version),
    rule: input.rule,
    version: input.version,
    evaluator: compileCondition(input.rule.when),
  });
}

export function isCompiledRule(rule: CompiledRule | RuleInput): rule is CompiledRule {
  return "evaluator" in rule;
}
