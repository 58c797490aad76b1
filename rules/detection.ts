import { z } from "zod";
import { comparisonOpSchema, severitySchema, ticketTypeSchema } from "./rule-schema.js";

// Evidence is stored on the ticket and sent to CRMs as-is, so it holds only JSON values:
// numbers in epoch ms, no Dates, no Maps.
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

// Grows one member per condition kind, in step with conditionSchema.
export const evidenceSchema = z.discriminatedUnion("kind", [thresholdEvidenceSchema]);
export type Evidence = z.infer<typeof evidenceSchema>;

export const detectionSchema = z.object({
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  /** Disabled rules never run, so a detection is either acted on or only recorded. */
  mode: z.enum(["active", "shadow"]),
  deviceId: z.string(),
  deviceType: z.string(),
  problem: z.string(),
  ticketType: ticketTypeSchema,
  title: z.string(),
  severity: severitySchema,
  notifyCustomer: z.boolean(),
  /** Event time (`ts`) of the observation that completed the detection, not the wall clock. */
  detectedAt: z.number(),
  evidence: evidenceSchema,
});
export type Detection = z.infer<typeof detectionSchema>;
