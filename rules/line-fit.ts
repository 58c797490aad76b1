import type { ComparisonOp } from "./condition-schema.js";
import {
  bucketKey,
  bucketOffset,
  createBucketRing,
  forEachBucket,
  recomputeTotals,
  type BucketRing,
} from "./bucket-ring.js";

// Sums per bucket, with u = ts − origin and v = value − base: n, Σu, Σv, Σu², Σuv, Σv².
const N = 0;
const SU = 1;
const SV = 2;
const SUU = 3;
const SUV = 4;
const SVV = 5;
const FIELDS = 6;

export const HOUR_MS = 3_600_000;

// Epoch milliseconds squared are ~3e24: summing those would leave no digits for the slope. Times
// are kept relative to an origin near the window instead, moved forward every few windows.
const REBASE_AFTER_WINDOWS = 4;

/** A least-squares line over a sliding window: O(1) per reading, fixed memory. */
export type LineFit = {
  ring: BucketRing;
  windowMs: number;
  origin: number;
  base: number | undefined;
  // The last fit, written in place so evaluating a reading allocates nothing.
  points: number;
  slopePerMs: number;
  r2: number;
  meanTs: number;
  meanValue: number;
};

export function createLineFit(windowMs: number): LineFit {
  return {
    ring: createBucketRing(windowMs, FIELDS),
    windowMs,
    origin: 0,
    base: undefined,
    points: 0,
    slopePerMs: 0,
    r2: 0,
    meanTs: 0,
    meanValue: 0,
  };
}

export function addPoint(fit: LineFit, ts: number, value: number): void {
  if (fit.base === undefined) {
    fit.base = value;
    fit.origin = ts;
  }
  if (ts - fit.origin > REBASE_AFTER_WINDOWS * fit.windowMs) rebase(fit, ts - fit.windowMs);
  const { ring } = fit;
  const o = bucketOffset(ring, bucketKey(ring, ts));
  const u = ts - fit.origin;
  const v = value - fit.base;
  // Written out rather than through a helper closure: this runs for every reading of every
  // device, and a closure per call costs more than the arithmetic.
  const { buf } = ring;
  buf[o + N] += 1;
  buf[o + SU] += u;
  buf[o + SV] += v;
  buf[o + SUU] += u * u;
  buf[o + SUV] += u * v;
  buf[o + SVV] += v * v;
  // The window's totals sit at buf[0 .. FIELDS).
  buf[N] += 1;
  buf[SU] += u;
  buf[SV] += v;
  buf[SUU] += u * u;
  buf[SUV] += u * v;
  buf[SVV] += v * v;
}

// Shifting every time by d: Σ(u+d) = Σu + n·d, Σ(u+d)² = Σu² + 2d·Σu + n·d², Σ(u+d)v = Σuv + d·Σv.
function rebase(fit: LineFit, origin: number): void {
  const d = fit.origin - origin;
  const { buf } = fit.ring;
  forEachBucket(fit.ring, (o) => {
    const n = buf[o + N]!;
    const su = buf[o + SU]!;
    buf[o + SUU] += 2 * d * su + n * d * d;
    buf[o + SU] = su + n * d;
    buf[o + SUV] += d * buf[o + SV]!;
  });
  fit.origin = origin;
  recomputeTotals(fit.ring);
}

/**
 * Fits the line through the window's readings into `fit`. False when there is no line to speak
 * of: fewer than two readings, or all at one instant.
 */
export function fitLine(fit: LineFit): boolean {
  const t = fit.ring.buf;
  const n = t[N]!;
  fit.points = n;
  if (n < 2 || fit.base === undefined) return false;
  const sxx = t[SUU]! - (t[SU]! * t[SU]!) / n;
  const sxy = t[SUV]! - (t[SU]! * t[SV]!) / n;
  const syy = t[SVV]! - (t[SV]! * t[SV]!) / n;
  // Relative cut-offs: what is left of a cancelled sum is rounding noise, not spread.
  if (!(sxx > t[SUU]! * 1e-12)) return false;
  fit.slopePerMs = sxy / sxx;
  fit.r2 = syy > t[SVV]! * 1e-12 ? Math.min(1, (sxy * sxy) / (sxx * syy)) : 1;
  fit.meanTs = fit.origin + t[SU]! / n;
  fit.meanValue = fit.base + t[SV]! / n;
  return true;
}

/** The fitted line's value at event time `ts` (call after `fitLine` returned true). */
export function fittedValueAt(fit: LineFit, ts: number): number {
  return fit.meanValue + fit.slopePerMs * (ts - fit.meanTs);
}

/** What a rate and a trend rule both report about their fit: the line, its quality and its window. */
export function fitEvidence(
  condition: { metric: string; op: ComparisonOp; value: number; over: number },
  fit: LineFit,
) {
  return {
    metric: condition.metric,
    op: condition.op,
    limit: condition.value,
    slopePerHour: fit.slopePerMs * HOUR_MS,
    r2: fit.r2,
    points: fit.points,
    overMs: condition.over,
  };
}
