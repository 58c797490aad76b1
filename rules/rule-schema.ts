import { z } from "zod";
import { durationSchema } from "./duration.js";

const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const slugSchema = z
  .string()
  .max(100)
  .regex(SLUG_PATTERN, {
    error: 'expected a slug of lowercase letters, digits and dashes, like "washer-drain-slow"',
  });

const nonEmptySchema = z.string().min(1, { error: "must not be empty" });

export const COMPARISON_OPS = [">", ">=", "<", "<=", "==", "!="] as const;
export const comparisonOpSchema = z.enum(COMPARISON_OPS, {
  error: `expected one of ${COMPARISON_OPS.join(" ")}`,
});
export type ComparisonOp = z.infer<typeof comparisonOpSchema>;

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

// One member per condition kind the engine can evaluate; a kind is added here only together with
// its evaluator (see compile-rule.ts), so a stored rule can never be accepted and then ignored.
const CONDITION_MEMBERS = [thresholdConditionSchema] as const;
export const CONDITION_KINDS = CONDITION_MEMBERS.map((m) => m.shape.kind.value);

export const conditionSchema = z.discriminatedUnion("kind", CONDITION_MEMBERS, {
  error: (issue) => {
    if (issue.code !== "invalid_union") return undefined;
    const input = issue.input as { kind?: unknown } | undefined;
    const kind = input && typeof input === "object" ? input.kind : undefined;
    const expected = `expected one of ${CONDITION_KINDS.join(", ")}`;
    return kind === undefined
      ? `missing condition kind; ${expected}`
      : `unknown condition kind ${JSON.stringify(kind)}; ${expected}`;
  },
});
export type Condition = z.infer<typeof conditionSchema>;
export type ConditionKind = Condition["kind"];

export const SEVERITIES = ["info", "minor", "major", "critical"] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

export const TICKET_TYPES = ["service", "predicted_failure", "complaint"] as const;
export const ticketTypeSchema = z.enum(TICKET_TYPES);
export type TicketType = z.infer<typeof ticketTypeSchema>;

export const RULE_MODES = ["active", "shadow", "disabled"] as const;
export const ruleModeSchema = z.enum(RULE_MODES);
export type RuleMode = z.infer<typeof ruleModeSchema>;

export const ruleDocumentSchema = z.strictObject({
  id: slugSchema,
  name: nonEmptySchema,
  description: z.string().optional(),
  deviceType: nonEmptySchema,
  when: conditionSchema,
  severity: severitySchema,
  ticket: z.strictObject({
    problem: slugSchema,
    type: ticketTypeSchema.default("service"),
    title: nonEmptySchema,
  }),
  notifyCustomer: z.boolean().default(false),
  mode: ruleModeSchema.default("active"),
});

/** A validated rule: durations are milliseconds, defaults filled in. */
export type RuleDocument = z.output<typeof ruleDocumentSchema>;
/** A rule as written by ops (durations as strings, defaults optional). */
export type RuleDocumentInput = z.input<typeof ruleDocumentSchema>;
