import { z } from "zod";
import { didYouMean } from "./did-you-mean.js";
import { durationSchema, positiveDurationSchema } from "./duration.js";

const nonEmptySchema = z.string().min(1, { error: "must not be empty" });

export const COMPARISON_OPS = [">", ">=", "<", "<=", "==", "!="] as const;
export const comparisonOpSchema = z.enum(COMPARISON_OPS, {
  error: `expected one of ${COMPARISON_OPS.join(" ")}`,
});
export type ComparisonOp = z.infer<typeof comparisonOpSchema>;

// A fitted line reaches a limit from one side; "==" would practically never hold and "!=" always.
export const ORDERING_OPS = [">", ">=", "<", "<="] as const;
const orderingOpSchema = z.enum(ORDERING_OPS, { error: `expected one of ${ORDERING_OPS.join(" ")}` });

const atLeast = (min: number) =>
  z.number().int().min(min, { error: `must be a whole number of at least ${min}` });

// Strict objects everywhere: a misspelt optional key ("fro": "10m") must be reported, not dropped,
// or the rule silently fires without its duration.
export const thresholdConditionSchema = z.strictObject({
  kind: z.literal("threshold"),
  metric: nonEmptySchema,
  op: comparisonOpSchema,
  value: z.number(),
  for: durationSchema.optional(),
  clear: z
    .strictObject({
      op: comparisonOpSchema,
      value: z.number(),
      for: durationSchema.optional(),
    })
    .optional(),
});
export type ThresholdCondition = z.infer<typeof thresholdConditionSchema>;

// The evaluator keeps the newest `atLeast` event times, so the cap bounds its state (8 KB).
export const countConditionSchema = z.strictObject({
  kind: z.literal("count"),
  codes: z.array(nonEmptySchema).min(1, { error: "must list at least one event code" }),
  atLeast: atLeast(1).max(1000, { error: "must be at most 1000" }),
  within: positiveDurationSchema,
});
export type CountCondition = z.infer<typeof countConditionSchema>;

/** `value` is in metric units per hour. */
export const rateConditionSchema = z.strictObject({
  kind: z.literal("rate"),
  metric: nonEmptySchema,
  op: comparisonOpSchema,
  value: z.number(),
  over: positiveDurationSchema,
  minPoints: atLeast(2).default(2),
});
export type RateCondition = z.infer<typeof rateConditionSchema>;

// Defaults are deliberately cautious: a line through three noisy points predicts anything, and a
// predicted failure sends a technician.
export const trendConditionSchema = z.strictObject({
  kind: z.literal("trend"),
  metric: nonEmptySchema,
  op: orderingOpSchema,
  value: z.number(),
  within: positiveDurationSchema,
  over: positiveDurationSchema,
  minPoints: atLeast(2).default(5),
  minR2: z
    .number()
    .min(0, { error: "must be between 0 and 1" })
    .max(1, { error: "must be between 0 and 1" })
    .default(0.5),
});
export type TrendCondition = z.infer<typeof trendConditionSchema>;

export const absenceConditionSchema = z.strictObject({
  kind: z.literal("absence"),
  for: positiveDurationSchema,
  ignoreWhenPoweredOff: z.boolean().default(false),
});
export type AbsenceCondition = z.infer<typeof absenceConditionSchema>;

export const AGGREGATE_FNS = ["avg", "min", "max", "sum", "count", "stddev", "median", "p95"] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

export const aggregateConditionSchema = z.strictObject({
  kind: z.literal("aggregate"),
  metric: nonEmptySchema,
  fn: z.enum(AGGREGATE_FNS, { error: `expected one of ${AGGREGATE_FNS.join(", ")}` }),
  over: positiveDurationSchema,
  op: comparisonOpSchema,
  value: z.number(),
  for: durationSchema.optional(),
  minPoints: atLeast(1).default(1),
});
export type AggregateCondition = z.infer<typeof aggregateConditionSchema>;

export const ANOMALY_DIRECTIONS = ["up", "down", "both"] as const;

export const anomalyConditionSchema = z.strictObject({
  kind: z.literal("anomaly"),
  metric: nonEmptySchema,
  baseline: positiveDurationSchema,
  over: positiveDurationSchema,
  z: z.number().positive({ error: "must be greater than 0" }),
  direction: z.enum(ANOMALY_DIRECTIONS, { error: `expected one of ${ANOMALY_DIRECTIONS.join(", ")}` }),
  // A spread needs two points; ten keeps one odd day from defining a unit's normal.
  minBaseline: atLeast(2).default(10),
});
export type AnomalyCondition = z.infer<typeof anomalyConditionSchema>;

// Bounded so a generated document cannot make every reading walk a huge tree.
const membersSchema = () =>
  z
    .array(conditionSchema)
    .min(1, { error: "must list at least one condition" })
    .max(16, { error: "must list at most 16 conditions" });

export const allConditionSchema = z.strictObject({
  kind: z.literal("all"),
  get of(): z.ZodArray<typeof conditionSchema> {
    return membersSchema();
  },
});
export const anyConditionSchema = z.strictObject({
  kind: z.literal("any"),
  get of(): z.ZodArray<typeof conditionSchema> {
    return membersSchema();
  },
});

// One member per condition kind the engine can evaluate; a kind is added here only together with
// its evaluator (see compile-rule.ts), so a stored rule can never be accepted and then ignored.
const CONDITION_MEMBERS = [
  thresholdConditionSchema,
  countConditionSchema,
  rateConditionSchema,
  trendConditionSchema,
  absenceConditionSchema,
  aggregateConditionSchema,
  anomalyConditionSchema,
  allConditionSchema,
  anyConditionSchema,
] as const;
// Spelled out: reading the kinds off the members at load time would evaluate the recursive
// `of` getters before conditionSchema exists. The check below keeps the list complete.
export const CONDITION_KINDS = [
  "threshold",
  "count",
  "rate",
  "trend",
  "absence",
  "aggregate",
  "anomaly",
  "all",
  "any",
] as const;

export const conditionSchema = z.discriminatedUnion("kind", CONDITION_MEMBERS, {
  error: (issue): string | undefined => {
    if (issue.code !== "invalid_union") return undefined;
    const input = issue.input as { kind?: unknown } | undefined;
    const kind = input && typeof input === "object" ? input.kind : undefined;
    const expected = `expected one of ${CONDITION_KINDS.join(", ")}`;
    if (kind === undefined) return `missing condition kind; ${expected}`;
    const suggestion = typeof kind === "string" ? didYouMean(kind, CONDITION_KINDS) : undefined;
    const hint = suggestion ? `did you mean ${suggestion}?` : expected;
    return `unknown condition kind ${JSON.stringify(kind)}; ${hint}`;
  },
});
export type Condition = z.infer<typeof conditionSchema>;
export type ConditionKind = Condition["kind"];
type Unlisted = Exclude<ConditionKind, (typeof CONDITION_KINDS)[number]>;
const everyKindListed: [Unlisted] extends [never] ? true : never = true;
void everyKindListed;
export type CompositeCondition = Extract<Condition, { kind: "all" | "any" }>;

/** Kinds with one top-level comparison `op value`, which a per-customer override may tighten. */
export const OVERRIDABLE_KINDS = ["threshold", "rate", "trend", "aggregate"] as const;
export type OverridableCondition = Extract<Condition, { kind: (typeof OVERRIDABLE_KINDS)[number] }>;

export function isOverridable(condition: Condition): condition is OverridableCondition {
  return (OVERRIDABLE_KINDS as readonly string[]).includes(condition.kind);
}
