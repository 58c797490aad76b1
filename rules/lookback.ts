import type { Condition } from "./rule-schema.js";

const DURATION_KEYS = new Set(["for", "within", "over", "baseline"]);

/**
 * How much history a condition needs to rebuild its state after a restart. Summing every
 * duration in the condition tree over-approximates (a `for` and its `clear.for` never both span
 * the whole tail) but never under-approximates, whatever kinds are added later.
 */
export function lookbackMs(condition: Condition): number {
  let total = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (DURATION_KEYS.has(key) && typeof value === "number") total += value;
        else visit(value);
      }
    }
  };
  visit(condition);
  return total;
}
