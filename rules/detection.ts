import { z } from "zod";
import { evidenceSchema, predictedFailureOf } from "./evidence.js";
import type { DetectedDevice, RuleSlot } from "./rule-slot.js";
import { severitySchema, ticketTypeSchema } from "./rule-schema.js";

export {
  evidenceSchema,
  thresholdEvidenceSchema,
  type Evidence,
  type ThresholdEvidence,
} from "./evidence.js";

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
  /** The rule's severity, or that of the first per-customer override matching the device. */
  severity: severitySchema,
  notifyCustomer: z.boolean(),
  /**
   * Event time at which the condition started to hold: the `ts` of the observation that completed
   * it, or for `absence` the moment the silence reached `for`. Never the wall clock.
   */
  detectedAt: z.number(),
  /**
   * Epoch ms when a trend's fitted line reaches its limit: present when the evidence holds a
   * trend (the earliest one, if an all/any holds several), absent otherwise.
   */
  predictedFailureAt: z.number().optional(),
  evidence: evidenceSchema,
});
export type Detection = z.infer<typeof detectionSchema>;

/** Built only when a rule fires: evidence is assembled from the state on demand. */
export function toDetection(slot: RuleSlot, device: DetectedDevice, detectedAt: number): Detection {
  const { rule, version, variants } = slot.compiled;
  const variant = variants[slot.variant]!;
  const evidence = variant.evaluator.evidence(slot.state);
  const predictedFailureAt = predictedFailureOf(evidence);
  return {
    ruleId: rule.id,
    ruleVersion: version,
    mode: rule.mode === "shadow" ? "shadow" : "active",
    deviceId: device.id,
    deviceType: device.type,
    problem: rule.ticket.problem,
    ticketType: rule.ticket.type,
    title: rule.ticket.title,
    severity: variant.severity,
    notifyCustomer: rule.notifyCustomer,
    detectedAt,
    ...(predictedFailureAt === undefined ? {} : { predictedFailureAt }),
    evidence,
  };
}

/**
 * A rule stopped holding for a device: the problem cleared (for a threshold with `clear`, the
 * clear condition has held for `clear.for`). The gateway may resolve an undispatched ticket.
 */
export type Clearance = {
  ruleId: string;
  ruleVersion: number;
  mode: "active" | "shadow";
  deviceId: string;
  problem: string;
  selfClear: boolean;
  /** Event time of the observation (or clock) at which the rule stopped holding. */
  clearedAt: number;
};

export function toClearance(slot: RuleSlot, device: DetectedDevice, clearedAt: number): Clearance {
  const { rule, version } = slot.compiled;
  return {
    ruleId: rule.id,
    ruleVersion: version,
    mode: rule.mode === "shadow" ? "shadow" : "active",
    deviceId: device.id,
    problem: rule.ticket.problem,
    selfClear: rule.ticket.selfClear,
    clearedAt,
  };
}
