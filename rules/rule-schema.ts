import { z } from "zod";
import { conditionSchema, type Condition } from "./condition-schema.js";

export {
  COMPARISON_OPS,
  CONDITION_KINDS,
  comparisonOpSchema,
  conditionSchema,
  thresholdConditionSchema,
  type ComparisonOp,
  type Condition,
  type ConditionKind,
  type ThresholdCondition,
} from "./condition-schema.js";

const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const slugSchema = z
  .string()
  .max(100)
  .regex(SLUG_PATTERN, {
    error: 'expected a slug of lowercase letters, digits and dashes, like "washer-drain-slow"',
  });

const nonEmptySchema = z.string().min(1, { error: "must not be empty" });
const patternsSchema = z.array(nonEmptySchema).min(1, { error: "must list at least one entry" });

export const SEVERITIES = ["info", "minor", "major", "critical"] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

export const TICKET_TYPES = ["service", "predicted_failure", "complaint"] as const;
export const ticketTypeSchema = z.enum(TICKET_TYPES);
export type TicketType = z.infer<typeof ticketTypeSchema>;

export const RULE_MODES = ["active", "shadow", "disabled"] as const;
export const ruleModeSchema = z.enum(RULE_MODES);
export type RuleMode = z.infer<typeof ruleModeSchema>;

/**
 * Which devices of `deviceType` a rule watches. Fields combine with AND, the entries of one field
 * with OR; `models` and `firmware` are globs (`*` any run of characters, `?` one). A device whose
 * observations do not say its model, firmware or tags is not selected by a rule that asks.
 */
export const selectSchema = z.strictObject({
  models: patternsSchema.optional(),
  firmware: patternsSchema.optional(),
  customerTags: patternsSchema.optional(),
});
export type RuleSelect = z.infer<typeof selectSchema>;

/**
 * A tighter limit or a higher severity for customers carrying any of `tags` (a VIP's fridge, an
 * elderly household's heater). The first matching override wins. Tags are free-form. `value`
 * replaces the condition's top-level `value`, so only kinds with one can take it: threshold,
 * rate (per hour), trend (the limit) and aggregate; severity works for every kind.
 */
export const overrideSchema = z.strictObject({
  tags: patternsSchema,
  value: z.number().optional(),
  severity: severitySchema.optional(),
});
export type RuleOverride = z.infer<typeof overrideSchema>;

// A trend predicts a failure with a date; anything else reports one that is already there.
function defaultTicketType(when: Condition): TicketType {
  return when.kind === "trend" ? "predicted_failure" : "service";
}

export const ruleDocumentSchema = z
  .strictObject({
    id: slugSchema,
    name: nonEmptySchema,
    description: z.string().optional(),
    deviceType: nonEmptySchema,
    select: selectSchema.optional(),
    when: conditionSchema,
    severity: severitySchema,
    overrides: z.array(overrideSchema).max(20, { error: "must list at most 20 overrides" }).optional(),
    ticket: z.strictObject({
      problem: slugSchema,
      type: ticketTypeSchema.optional(),
      title: nonEmptySchema,
      /**
       * Whether a ticket nobody has dispatched yet resolves itself (`self_cleared`) when the
       * condition stops holding — for a threshold with `clear`, once the clear condition has held
       * for `clear.for`. Defaults to on where the rule states what cleared means (a threshold with
       * `clear`) and the problem is not critical; a critical (safety) problem refuses it.
       */
      selfClear: z.boolean().optional(),
    }),
    notifyCustomer: z.boolean().default(false),
    mode: ruleModeSchema.default("active"),
  })
  .superRefine((doc, ctx) => {
    const critical = doc.severity === "critical" || (doc.overrides ?? []).some((o) => o.severity === "critical");
    if (critical && doc.ticket.selfClear === true) {
      ctx.addIssue({
        code: "custom",
        path: ["ticket", "selfClear"],
        message: "a critical (safety) problem never resolves itself; remove selfClear or lower the severity",
      });
    }
  })
  .transform((doc) => ({
    ...doc,
    ticket: {
      ...doc.ticket,
      type: doc.ticket.type ?? defaultTicketType(doc.when),
      selfClear: doc.ticket.selfClear ?? (doc.severity !== "critical" && !(doc.overrides ?? []).some((o) => o.severity === "critical")
        && doc.when.kind === "threshold" && doc.when.clear !== undefined),
    },
  }));

/** A validated rule: durations are milliseconds, defaults filled in. */
export type RuleDocument = z.output<typeof ruleDocumentSchema>;
/** A rule as written by ops (durations as strings, defaults optional). */
export type RuleDocumentInput = z.input<typeof ruleDocumentSchema>;
