import type { z } from "zod";
import { describeComparison, findOverlap } from "./comparison.js";
import { didYouMean } from "./did-you-mean.js";
import { ruleDocumentSchema, type RuleDocument } from "./rule-schema.js";

export type RuleProblem = { path: string; message: string };

export type RuleValidation =
  | { ok: true; rule: RuleDocument }
  | { ok: false; problems: RuleProblem[] };

/** What validation needs to know about registered device types (their profiles). */
export type DeviceTypeCatalogue = {
  /** Metric names of a device type, or undefined when no such type is registered. */
  metricsOf(deviceType: string): readonly string[] | undefined;
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `["when", "of", 1, "metric"]` → `when.of[1].metric`; the document root is "". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/**
 * Validates a rule document against the schema and against the registered device types, and
 * reports every problem at once: ops fix a rule in one round trip, not one error per save.
 */
export function validateRule(doc: unknown, catalogue: DeviceTypeCatalogue): RuleValidation {
  const parsed = ruleDocumentSchema.safeParse(doc);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap((i) => toProblems(i, doc));
  // Reference checks read the raw document so a typo in a metric is reported even when, say,
  // the severity is also wrong.
  problems.push(...checkReferences(doc, catalogue));
  if (parsed.success) problems.push(...checkHysteresis(parsed.data));
  return parsed.success && problems.length === 0
    ? { ok: true, rule: parsed.data }
    : { ok: false, problems };
}

export function formatProblems(problems: readonly RuleProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("\n");
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

function checkReferences(doc: unknown, catalogue: DeviceTypeCatalogue): RuleProblem[] {
  if (!isRecord(doc) || typeof doc.deviceType !== "string" || doc.deviceType === "") return [];
  const { deviceType } = doc;
  const metrics = catalogue.metricsOf(deviceType);
  if (!metrics) return [{ path: "deviceType", message: `unknown device type "${deviceType}"` }];

  const problems: RuleProblem[] = [];
  for (const { path, metric } of metricReferences(doc.when, ["when"])) {
    if (metrics.includes(metric)) continue;
    const suggestion = didYouMean(metric, metrics);
    const hint = suggestion
      ? `did you mean ${suggestion}?`
      : `known metrics: ${metrics.join(", ") || "none"}`;
    problems.push({
      path: formatPath(path),
      message: `unknown metric "${metric}" for device type ${deviceType}; ${hint}`,
    });
  }
  return problems;
}

// Walks `of` lists as well, so composite conditions get their metric checks, and their paths,
// without a second walker.
function* metricReferences(
  condition: unknown,
  path: readonly PropertyKey[],
): Generator<{ path: PropertyKey[]; metric: string }> {
  if (!isRecord(condition)) return;
  if (typeof condition.metric === "string" && condition.metric !== "") {
    yield { path: [...path, "metric"], metric: condition.metric };
  }
  if (Array.isArray(condition.of)) {
    for (const [i, member] of condition.of.entries()) {
      yield* metricReferences(member, [...path, "of", i]);
    }
  }
}

// A clear limit that some value satisfies together with the trigger re-arms the latch while the
// problem is still present, which is exactly the flapping `clear` exists to prevent.
function checkHysteresis(rule: RuleDocument): RuleProblem[] {
  const { when } = rule;
  if (when.kind !== "threshold" || !when.clear) return [];
  const witness = findOverlap(when, when.clear);
  if (witness === undefined) return [];
  return [
    {
      path: "when.clear",
      message:
        `clear condition (${describeComparison(when.clear)}) overlaps the trigger ` +
        `(${describeComparison(when)}): a reading of ${witness} would both fire and clear it`,
    },
  ];
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let current = doc;
  for (const segment of path) {
    if (!isRecord(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
