import { describeComparison, findOverlap, type Comparison } from "./comparison.js";
import { OVERRIDABLE_KINDS, isOverridable, type Condition } from "./condition-schema.js";
import { didYouMean } from "./did-you-mean.js";
import { formatPath, isRecord, walkConditions, type RuleProblem } from "./rule-paths.js";
import type { RuleDocument } from "./rule-schema.js";
import type { DeviceTypeCatalogue } from "./validate-rule.js";

// What validation checks beyond the schema, which sees one field at a time.

/**
 * Metric names and event codes must exist on the device type: a rule on a misspelt metric
 * validates, deploys and then never fires, which nobody notices until a customer calls.
 */
export function checkReferences(doc: unknown, catalogue: DeviceTypeCatalogue): RuleProblem[] {
  if (!isRecord(doc) || typeof doc.deviceType !== "string" || doc.deviceType === "") return [];
  const { deviceType } = doc;
  const metrics = catalogue.metricsOf(deviceType);
  if (!metrics) return [{ path: "deviceType", message: `unknown device type "${deviceType}"` }];
  const codes = catalogue.eventCodesOf?.(deviceType);

  const problems: RuleProblem[] = [];
  const refer = (path: PropertyKey[], what: string, name: string, known: readonly string[]) => {
    if (known.includes(name)) return;
    const suggestion = didYouMean(name, known);
    const hint = suggestion ? `did you mean ${suggestion}?` : `known ${what}s: ${known.join(", ") || "none"}`;
    const message = `unknown ${what} "${name}" for device type ${deviceType}; ${hint}`;
    problems.push({ path: formatPath(path), message });
  };

  for (const { node, path } of walkConditions(doc.when)) {
    if (typeof node.metric === "string" && node.metric !== "") {
      refer([...path, "metric"], "metric", node.metric, metrics);
    }
    // Only when the type declares its codes: many profiles list metrics but leave codes open.
    if (codes && codes.length > 0 && Array.isArray(node.codes)) {
      node.codes.forEach((code, i) => {
        if (typeof code === "string" && code !== "") refer([...path, "codes", i], "event code", code, codes);
      });
    }
  }
  return problems;
}

/**
 * Checks that span fields, on a document the schema has accepted: each field alone is fine, but
 * together they make a rule that flaps, can never fire, or tunes something that is not there.
 */
export function checkConsistency(rule: RuleDocument): RuleProblem[] {
  const problems: RuleProblem[] = [];
  for (const { node, path } of walkConditions(rule.when)) {
    const condition = node as Condition;
    if (condition.kind === "threshold" && condition.clear) {
      const overlap = describeOverlap(condition, condition.clear);
      if (overlap) problems.push({ path: formatPath([...path, "clear"]), message: overlap });
    }
    // The spread of a baseline shorter than the window it judges says little about that window.
    if (condition.kind === "anomaly" && condition.baseline < condition.over) {
      problems.push({ path: formatPath([...path, "baseline"]), message: "must be at least as long as over" });
    }
  }
  rule.overrides?.forEach((override, i) => {
    problems.push(...checkOverride(rule.when, override, ["overrides", i]));
  });
  return problems;
}

// A clear limit that some value satisfies together with the trigger re-arms the latch while the
// problem is still present, which is exactly the flapping `clear` exists to prevent.
function describeOverlap(trigger: Comparison, clear: Comparison): string | undefined {
  const witness = findOverlap(trigger, clear);
  if (witness === undefined) return undefined;
  return (
    `clear condition (${describeComparison(clear)}) overlaps the trigger ` +
    `(${describeComparison(trigger)}): a reading of ${witness} would both fire and clear it`
  );
}

function checkOverride(
  when: Condition,
  override: NonNullable<RuleDocument["overrides"]>[number],
  path: PropertyKey[],
): RuleProblem[] {
  if (override.value === undefined && override.severity === undefined) {
    return [{ path: formatPath(path), message: "sets neither value nor severity" }];
  }
  if (override.value === undefined) return [];
  const at = formatPath([...path, "value"]);
  if (!isOverridable(when)) {
    return [
      {
        path: at,
        message:
          `${when.kind} conditions have no single value to override; ` +
          `value can be overridden for ${OVERRIDABLE_KINDS.join(", ")}`,
      },
    ];
  }
  if (when.kind === "threshold" && when.clear) {
    const overlap = describeOverlap({ op: when.op, value: override.value }, when.clear);
    if (overlap) return [{ path: at, message: `with value ${override.value}, the ${overlap}` }];
  }
  return [];
}
