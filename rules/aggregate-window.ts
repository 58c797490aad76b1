import { compareComputed, type Comparison } from "./comparison.js";
import type { AggregateFn } from "./condition-schema.js";
import {
  WINDOW_BUCKETS,
  bucketKey,
  bucketOffset,
  createBucketRing,
  forEachBucket,
  zeros,
  type BucketRing,
} from "./bucket-ring.js";

// Sums per bucket, values relative to `base` so squares keep their digits: n, Σv, Σv², and for
// order statistics the counts of readings below and at the limit. Each function keeps only the
// leading fields it needs; memory per window is what the benchmark watches.
const N = 0;
const S1 = 1;
const S2 = 2;
const LT = 3;
const EQ = 4;
const FIELDS: Record<AggregateFn, number> = {
  count: 1,
  min: 1,
  max: 1,
  sum: 2,
  avg: 2,
  stddev: 3,
  median: 5,
  p95: 5,
};

/**
 * min and max come from a monotonic deque over buckets: each bucket's best value, kept only
 * while no newer bucket beats it, so the front is the window's extreme and the deque never holds
 * more entries than buckets.
 */
type Extremes = { buf: number[]; capacity: number; head: number; size: number };
// `buf` holds bucket numbers at [0, capacity) and their values at [capacity, 2·capacity).

export type AggregateWindow = { ring: BucketRing; base: number | undefined; extremes: Extremes | undefined };

const QUANTILE: Partial<Record<AggregateFn, number>> = { median: 0.5, p95: 0.95 };

export function createAggregateWindow(fn: AggregateFn, overMs: number): AggregateWindow {
  const capacity = WINDOW_BUCKETS + 1;
  const extremes =
    fn === "min" || fn === "max" ? { buf: zeros(2 * capacity), capacity, head: 0, size: 0 } : undefined;
  return { ring: createBucketRing(overMs, FIELDS[fn]), base: undefined, extremes };
}

export function addReading(
  w: AggregateWindow,
  fn: AggregateFn,
  limit: number,
  ts: number,
  value: number,
): void {
  w.base ??= value;
  const key = bucketKey(w.ring, ts);
  const o = bucketOffset(w.ring, key);
  const v = value - w.base;
  const { buf, fields } = w.ring;
  // The window's totals sit at buf[0 .. fields), each bucket's sums at buf[o .. o + fields).
  buf[o + N] += 1;
  buf[N] += 1;
  if (fields > S1) {
    buf[o + S1] += v;
    buf[S1] += v;
  }
  if (fields > S2) {
    buf[o + S2] += v * v;
    buf[S2] += v * v;
  }
  const counter = value < limit ? LT : value === limit ? EQ : -1;
  if (fields > EQ && counter >= 0) {
    buf[o + counter] += 1;
    buf[counter] += 1;
  }
  if (w.extremes) pushExtreme(w.extremes, key, value, fn === "max");
}

function pushExtreme(d: Extremes, key: number, value: number, max: boolean): void {
  const { buf, capacity: cap } = d;
  const oldestKept = key - WINDOW_BUCKETS + 1;
  while (d.size > 0 && buf[d.head]! < oldestKept) {
    d.head = (d.head + 1) % cap;
    d.size -= 1;
  }
  let back = (d.head + d.size - 1) % cap;
  while (d.size > 0 && (max ? value >= buf[cap + back]! : value <= buf[cap + back]!)) {
    d.size -= 1;
    back = (back + cap - 1) % cap;
  }
  // Within one bucket the earlier, better value leaves the window at the same time: keep it.
  if (d.size > 0 && buf[back] === key) return;
  const slot = (d.head + d.size) % cap;
  buf[slot] = key;
  buf[cap + slot] = value;
  d.size += 1;
}

export function points(w: AggregateWindow): number {
  return w.ring.buf[N]!;
}

/** The aggregate's value; for median and p95 an estimate (see `holdsAggregate`). */
export function aggregateValue(w: AggregateWindow, fn: AggregateFn): number {
  const t = w.ring.buf;
  const n = t[N]!;
  const base = w.base ?? 0;
  switch (fn) {
    case "count":
      return n;
    case "sum":
      return t[S1]! + n * base;
    case "avg":
      return base + t[S1]! / n;
    case "stddev":
      return n < 2 ? 0 : Math.sqrt(Math.max(0, (t[S2]! - (t[S1]! * t[S1]!) / n) / (n - 1)));
    case "min":
    case "max":
      return w.extremes!.buf[w.extremes!.capacity + w.extremes!.head]!;
    case "median":
    case "p95":
      return estimateQuantile(w, QUANTILE[fn]!);
  }
}

/**
 * Whether `fn(window) op limit`. Order statistics are decided exactly without sorting anything:
 * the nearest-rank quantile (rank ⌈q·n⌉; the median of an even count is the lower middle value)
 * exceeds the limit exactly when fewer than that rank of readings are at or below it, and the
 * window counts those per bucket.
 */
export function holdsAggregate(
  w: AggregateWindow,
  fn: AggregateFn,
  { op, value: limit }: Comparison,
): boolean {
  const q = QUANTILE[fn];
  if (q === undefined) return compareComputed(op, aggregateValue(w, fn), limit);
  const t = w.ring.buf;
  const rank = Math.max(1, Math.ceil(q * t[N]!));
  const below = t[LT]!;
  const atOrBelow = below + t[EQ]!;
  switch (op) {
    case ">":
      return atOrBelow < rank;
    case ">=":
      return below < rank;
    case "<":
      return below >= rank;
    case "<=":
      return atOrBelow >= rank;
    case "==":
      return below < rank && rank <= atOrBelow;
    case "!=":
      return !(below < rank && rank <= atOrBelow);
  }
}

/**
 * The reported median or p95: the same rank taken over bucket means weighted by their counts.
 * Exact while each bucket (1/20 of the window) holds one reading; otherwise it lies between the
 * smallest and largest bucket mean around that rank. The decision itself never uses it.
 */
function estimateQuantile(w: AggregateWindow, q: number): number {
  const means: [number, number][] = [];
  forEachBucket(w.ring, (o) => {
    const n = w.ring.buf[o + N]!;
    if (n > 0) means.push([(w.base ?? 0) + w.ring.buf[o + S1]! / n, n]);
  });
  means.sort((a, b) => a[0] - b[0]);
  const rank = Math.max(1, Math.ceil(q * points(w)));
  let seen = 0;
  for (const [mean, n] of means) {
    seen += n;
    if (seen >= rank) return mean;
  }
  return Number.NaN;
}
