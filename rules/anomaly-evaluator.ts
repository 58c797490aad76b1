import { bucketKey, bucketOffset, createBucketRing, evictBuckets, type BucketRing } from "./bucket-ring.js";
import { compareComputed } from "./comparison.js";
import type { ConditionEvaluator } from "./compile-rule.js";
import type { AnomalyCondition } from "./condition-schema.js";
import type { AnomalyEvidence } from "./evidence.js";
import type { Observation } from "./observation.js";

// Per bucket, values relative to `base`: n, Σv, Σv² — mean and spread, mergeable and removable.
const N = 0;
const S1 = 1;
const S2 = 2;
const FIELDS = 3;

export type AnomalyState = {
  recent: BucketRing;
  baseline: BucketRing;
  base: number | undefined;
  holds: boolean;
  /** Recent buckets up to this key saw the last anomaly: they are never learned as normal. */
  quarantinedUpTo: number;
};

type Judgement = { z: number; recentMean: number; baselineMean: number; baselineStddev: number };

/**
 * The device against its own history: the mean of the recent window (`over`) against the mean
 * and spread of the window before it (`baseline`), learned per device. Readings leave the recent
 * window into the baseline bucket by bucket, so each reading costs O(1) and memory stays two
 * rings of sums. While the condition holds the baseline is frozen, neither learning nor
 * forgetting, and the readings of the episode never enter it, so a fault never becomes the new
 * normal.
 */
export function createAnomalyEvaluator(
  condition: AnomalyCondition,
): ConditionEvaluator<AnomalyState, AnomalyEvidence> {
  const { over, direction } = condition;

  // Window totals sit at the start of each ring's buffer. Undefined until the baseline has
  // `minBaseline` readings and the recent window at least one.
  function measure(state: AnomalyState): Judgement | undefined {
    const b = state.baseline.buf;
    const r = state.recent.buf;
    const base = state.base ?? 0;
    const nb = b[N]!;
    if (nb < condition.minBaseline || r[N]! < 1) return undefined;
    const baselineMean = base + b[S1]! / nb;
    const baselineStddev = Math.sqrt(Math.max(0, (b[S2]! - (b[S1]! * b[S1]!) / nb) / (nb - 1)));
    const recentMean = base + r[S1]! / r[N]!;
    const diff = recentMean - baselineMean;
    // A baseline with no spread at all makes any difference infinitely unusual.
    const z = baselineStddev > 0 ? diff / baselineStddev : diff === 0 ? 0 : Math.sign(diff) * Infinity;
    return { z, recentMean, baselineMean, baselineStddev };
  }

  function judge(state: AnomalyState): boolean {
    const judgement = measure(state);
    if (!judgement) return false;
    const up = compareComputed(">=", judgement.z, condition.z);
    const down = compareComputed("<=", judgement.z, -condition.z);
    return direction === "up" ? up : direction === "down" ? down : up || down;
  }

  return {
    initialState() {
      return {
        recent: createBucketRing(over, FIELDS),
        baseline: createBucketRing(condition.baseline, FIELDS),
        base: undefined,
        holds: false,
        quarantinedUpTo: Number.NEGATIVE_INFINITY,
      };
    },

    step(state, observation: Observation): boolean {
      if (observation.kind !== "telemetry") return state.holds;
      const value = observation.metrics[condition.metric];
      if (typeof value !== "number") return state.holds;
      const { ts } = observation;
      state.base ??= value;
      const key = bucketKey(state.recent, ts);
      // Frozen: what leaves the recent window during an anomaly is dropped, not learned.
      evictBuckets(state.recent, key, state.holds ? undefined : state.baseline, state.quarantinedUpTo);
      if (!state.holds) evictBuckets(state.baseline, bucketKey(state.baseline, ts - over));
      const o = bucketOffset(state.recent, key);
      const v = value - state.base;
      const { buf } = state.recent;
      buf[o + N] += 1;
      buf[o + S1] += v;
      buf[o + S2] += v * v;
      buf[N] += 1;
      buf[S1] += v;
      buf[S2] += v * v;
      const holds = judge(state);
      // When the episode ends the recent window still holds the faulty readings; they leave it
      // after the freeze is over and would otherwise slip into the baseline.
      if (state.holds && !holds) state.quarantinedUpTo = key;
      state.holds = holds;
      return holds;
    },

    evidence(state): AnomalyEvidence {
      const { z, recentMean, baselineMean, baselineStddev } = measure(state)!;
      return {
        kind: "anomaly",
        metric: condition.metric,
        direction,
        limit: condition.z,
        z: Number.isFinite(z) ? z : null,
        recentMean,
        recentPoints: state.recent.buf[N]!,
        baselineMean,
        baselineStddev,
        baselinePoints: state.baseline.buf[N]!,
      };
    },
  };
}
