import { Observable, type OperatorFunction } from "rxjs";
import type { Detection } from "./detection.js";
import type { RuleEngine } from "./engine.js";
import type { Observation } from "./observation.js";

export type DetectOptions = {
  /**
   * Drives the engine's clock from the stream itself: after each observation the watermark is
   * the newest `ts` seen minus this lag, and when the stream completes, the newest `ts`. Leave it
   * out to evaluate observations only (no absence detections for devices that fall silent at the
   * end, no release of buffered observations at completion).
   */
  watermarkLagMs?: number;
};

/**
 * The engine as an rxjs operator, so a backtest over stored readings or a replay of a recorded
 * file runs the very same evaluation as the live gateway and yields the same detections.
 *
 * Late observations are dropped here as in live evaluation; the engine's state is shared with
 * any other caller of `engine.evaluate`, so give a backtest its own engine.
 */
export function detect(
  engine: Pick<RuleEngine, "evaluate" | "advanceTo">,
  options: DetectOptions = {},
): OperatorFunction<Observation, Detection> {
  const lag = options.watermarkLagMs;
  return (source) =>
    new Observable<Detection>((subscriber) => {
      let newest = Number.NEGATIVE_INFINITY;
      const emit = (detections: readonly Detection[]) => {
        for (const d of detections) subscriber.next(d);
      };
      return source.subscribe({
        next(observation) {
          // A throw inside a subscriber's `next` would be swallowed by rxjs; pass it downstream.
          try {
            emit(engine.evaluate(observation).detections);
            if (lag === undefined) return;
            newest = Math.max(newest, observation.ts);
            emit(engine.advanceTo(newest - lag));
          } catch (err) {
            subscriber.error(err);
          }
        },
        error(err: unknown) {
          subscriber.error(err);
        },
        complete() {
          if (lag !== undefined && Number.isFinite(newest)) emit(engine.advanceTo(newest));
          subscriber.complete();
        },
      });
    });
}
