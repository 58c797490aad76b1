import type { z } from "zod";
import { checkConsistency, checkReferences } from "./rule-checks.js";
import { ruleDocumentSchema, type RuleDocument } from "./rule-schema.js";
import { formatPath, isRecord, type RuleProblem } from "./rule-paths.js";

export { formatPath, formatProblems, type RuleProblem } from "./rule-paths.js";

export type RuleValidation =
  | { ok: true; rule: RuleDocument }
  | { ok: false; problems: RuleProblem[] };

/** What validation needs to know about registered device types (their profiles). */
export type DeviceTypeCatalogue = {
  /** Metric names of a device type, or undefined when no such type is registered. */
  metricsOf(deviceType: string): readonly string[] | undefined;
  /** Event codes a device type declares; undefined (or no function) leaves codes unchecked. */
  eventCodesOf?(deviceType: string): readonly string[] | undefined;
};

/**
 * Validates a rule document against the schema and against the registered device types, and
 * reports every problem at once: ops fix a rule in one round trip, not one error per save.
 * Without a catalogue (a replay of a recording, say) metric names and codes go unchecked.
 */
export function validateRule(doc: unknown, catalogue?: DeviceTypeCatalogue): RuleValidation {
  const parsed = ruleDocumentSchema.safeParse(doc);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap((i) => toProblems(i, doc));
  // Reference checks read the raw document so a typo in a metric is reported even when, say,
  // the severity is also wrong.
  if (catalogue) problems.push(...checkReferences(doc, catalogue));
  if (parsed.success) problems.push(...checkConsistency(parsed.data));
  return parsed.success && problems.length === 0
    ? { ok: true, rule: parsed.data }
    : { ok: false, problems };
}

function toProblems(issue: z.core.$ZodIssue, doc: unknown): RuleProblem[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: `unknown field "${key}"`,
    }));
  }
  const path = formatPath(issue.path);
  if (issue.code === "invalid_type" && valueAt(doc, issue.path) === undefined) {
    return [{ path, message: "is required" }];
  }
  // Zod prefixes every message with "Invalid input:"; the path already says where.
  return [{ path, message: issue.message.replace(/^Invalid (input|option): /, "") }];
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let current = doc;
  for (const segment of path) {
    if (!isRecord(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

