import { concatMap, type OperatorFunction } from "rxjs";
import type { Detection } from "./detection.js";
import type { RuleEngine } from "./engine.js";
import type { Observation } from "./observation.js";

/**
 * The engine as an rxjs operator, so a backtest over stored readings or a replay of a recorded
 * file runs the very same evaluation as the live gateway and yields the same detections.
 *
 * Late observations are dropped here as in live evaluation; the engine's state is shared with
 * any other caller of `engine.evaluate`, so give a backtest its own engine.
 */
export function detect(engine: Pick<RuleEngine, "evaluate">): OperatorFunction<Observation, Detection> {
  return concatMap((observation) => engine.evaluate(observation).detections);
}
