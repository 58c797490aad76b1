import type { ComparisonOp } from "./rule-schema.js";

/** `actual op limit`, with `==` and `!=` exact: limits come from documents, readings from devices. */
export function compare(op: ComparisonOp, actual: number, limit: number): boolean {
  switch (op) {
    case ">":
      return actual > limit;
    case ">=":
      return actual >= limit;
    case "<":
      return actual < limit;
    case "<=":
      return actual <= limit;
    case "==":
      return actual === limit;
    case "!=":
      return actual !== limit;
  }
}

export type Comparison = { op: ComparisonOp; value: number };

/**
 * A value satisfying both comparisons, or undefined when no value can.
 *
 * Each comparison's truth is constant on every piece of the number line cut at the two limits
 * (the limits themselves, the gap between them and the rays beyond), so trying one value from
 * each piece decides the question exactly for all six operators.
 */
export function findOverlap(a: Comparison, b: Comparison): number | undefined {
  const low = Math.min(a.value, b.value);
  const high = Math.max(a.value, b.value);
  const candidates = [a.value, b.value, (low + high) / 2, low - 1, high + 1];
  return candidates.find((x) => compare(a.op, x, a.value) && compare(b.op, x, b.value));
}

export function describeComparison(c: Comparison): string {
  return `${c.op} ${c.value}`;
}

// Slopes, means and spreads come out of floating-point arithmetic: a line through exact points
// may have a slope of 1.9999999999999998. Within a relative 1e-9 of the limit a computed value
// counts as equal to it, so "exactly at the limit" behaves as it does for raw readings.
const COMPUTED_TOLERANCE = 1e-9;

/** `compare` for values the engine computed rather than read. */
export function compareComputed(op: ComparisonOp, actual: number, limit: number): boolean {
  const close = Math.abs(actual - limit) <= COMPUTED_TOLERANCE * Math.max(1, Math.abs(limit));
  return compare(op, close ? limit : actual, limit);
}
