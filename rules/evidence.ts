import { z } from "zod";
import { AGGREGATE_FNS, ANOMALY_DIRECTIONS, comparisonOpSchema } from "./condition-schema.js";

// Evidence is stored on the ticket and sent to CRMs as-is, so it holds only JSON values:
// numbers in epoch ms, no Dates, no Maps, no Infinity.
export const thresholdEvidenceSchema = z.object({
  kind: z.literal("threshold"),
  metric: z.string(),
  op: comparisonOpSchema,
  limit: z.number(),
  /** The reading that completed the detection. */
  value: z.number(),
  /** Event time of the first reading of the unbroken run of holding readings. */
  since: z.number(),
  heldMs: z.number(),
  /** Holding readings in the run up to and including the one that fired. */
  readings: z.number().int(),
  min: z.number(),
  max: z.number(),
});
export type ThresholdEvidence = z.infer<typeof thresholdEvidenceSchema>;

export const countEvidenceSchema = z.object({
  kind: z.literal("count"),
  codes: z.array(z.string()),
  atLeast: z.number().int(),
  withinMs: z.number(),
  /** Event times of the oldest and newest of the `atLeast` newest matching events. */
  first: z.number(),
  last: z.number(),
  lastCode: z.string(),
});
export type CountEvidence = z.infer<typeof countEvidenceSchema>;

const fitFields = {
  metric: z.string(),
  op: comparisonOpSchema,
  limit: z.number(),
  /** Least-squares slope over the window, in metric units per hour. */
  slopePerHour: z.number(),
  r2: z.number(),
  points: z.number().int(),
  overMs: z.number(),
};

export const rateEvidenceSchema = z.object({ kind: z.literal("rate"), ...fitFields });
export type RateEvidence = z.infer<typeof rateEvidenceSchema>;

export const trendEvidenceSchema = z.object({
  kind: z.literal("trend"),
  ...fitFields,
  /** When the fitted line reaches the limit; the detection's event time if it already has. */
  predictedFailureAt: z.number(),
  /** The fitted line's value at the detection's event time. */
  fittedValue: z.number(),
  withinMs: z.number(),
});
export type TrendEvidence = z.infer<typeof trendEvidenceSchema>;

export const absenceEvidenceSchema = z.object({
  kind: z.literal("absence"),
  /** Last telemetry, or when watching began if none has been seen. */
  lastSeenAt: z.number(),
  forMs: z.number(),
  silentMs: z.number(),
  lastStatus: z.string().nullable(),
});
export type AbsenceEvidence = z.infer<typeof absenceEvidenceSchema>;

export const aggregateEvidenceSchema = z.object({
  kind: z.literal("aggregate"),
  metric: z.string(),
  fn: z.enum(AGGREGATE_FNS),
  op: comparisonOpSchema,
  limit: z.number(),
  value: z.number(),
  /** True for median and p95, whose reported value is an estimate (the decision is exact). */
  estimated: z.boolean(),
  points: z.number().int(),
  overMs: z.number(),
  /** Event time since which the aggregate has held unbroken. */
  since: z.number(),
  heldMs: z.number(),
});
export type AggregateEvidence = z.infer<typeof aggregateEvidenceSchema>;

export const anomalyEvidenceSchema = z.object({
  kind: z.literal("anomaly"),
  metric: z.string(),
  direction: z.enum(ANOMALY_DIRECTIONS),
  limit: z.number(),
  /** Spreads between the recent mean and the baseline mean; null when the baseline had no spread. */
  z: z.number().nullable(),
  recentMean: z.number(),
  recentPoints: z.number().int(),
  baselineMean: z.number(),
  baselineStddev: z.number(),
  baselinePoints: z.number().int(),
});
export type AnomalyEvidence = z.infer<typeof anomalyEvidenceSchema>;

// Members that did not hold when the composite fired are null, so positions match `when.of`.
export const allEvidenceSchema = z.object({
  kind: z.literal("all"),
  get of(): z.ZodArray<z.ZodNullable<typeof evidenceSchema>> {
    return z.array(evidenceSchema.nullable());
  },
});
export const anyEvidenceSchema = z.object({
  kind: z.literal("any"),
  get of(): z.ZodArray<z.ZodNullable<typeof evidenceSchema>> {
    return z.array(evidenceSchema.nullable());
  },
});

// Grows one member per condition kind, in step with conditionSchema.
export const evidenceSchema = z.discriminatedUnion("kind", [
  thresholdEvidenceSchema,
  countEvidenceSchema,
  rateEvidenceSchema,
  trendEvidenceSchema,
  absenceEvidenceSchema,
  aggregateEvidenceSchema,
  anomalyEvidenceSchema,
  allEvidenceSchema,
  anyEvidenceSchema,
]);
export type Evidence = z.infer<typeof evidenceSchema>;

/** The earliest predicted failure anywhere in the evidence tree, for the ticket's date. */
export function predictedFailureOf(evidence: Evidence | null): number | undefined {
  if (!evidence) return undefined;
  if (evidence.kind === "trend") return evidence.predictedFailureAt;
  if (evidence.kind !== "all" && evidence.kind !== "any") return undefined;
  let earliest: number | undefined;
  for (const member of evidence.of) {
    const at = predictedFailureOf(member);
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest;
}
