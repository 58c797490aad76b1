import { z } from "zod";
import type { RuleInput } from "./compile-rule.js";
import type { Detection } from "./detection.js";
import { createRuleEngine } from "./engine.js";
import { deviceInfoSchema } from "./observation.js";
import { decodeRecordedLine, type DeviceLookup } from "./recording.js";
import { formatProblems } from "./rule-paths.js";
import { validateRule } from "./validate-rule.js";

/** `--types`: device id → type id, or → `{ type, model?, firmware?, customerTags? }` for selectors. */
export const deviceTypesFileSchema = z.record(
  z.string(),
  z.union([z.string().min(1), deviceInfoSchema.extend({ type: z.string().min(1) })]),
);
export type DeviceTypesFile = z.infer<typeof deviceTypesFileSchema>;

export type ReplayOptions = {
  rules: readonly RuleInput[];
  types?: DeviceTypesFile;
  /** Lateness allowed in the recording; also how far the watermark trails the newest `ts`. */
  allowedLatenessMs?: number;
};

export type ReplaySummary = {
  lines: number;
  observations: number;
  late: number;
  skipped: Record<string, number>;
  devices: number;
  detections: number;
  detectionsByRule: Record<string, number>;
  firstEventAt: string | null;
  lastEventAt: string | null;
};

/**
 * Rules file: one document, a list of documents, or a list of `{ rule, version }`. Every
 * document is validated (without a device catalogue) and all problems are reported together.
 */
export function loadRules(json: unknown): RuleInput[] {
  const entries = Array.isArray(json) ? json : [json];
  const problems: string[] = [];
  const rules: RuleInput[] = [];
  entries.forEach((entry, i) => {
    const versioned = typeof entry === "object" && entry !== null && "rule" in entry;
    const result = validateRule(versioned ? (entry as { rule: unknown }).rule : entry);
    const version = versioned ? Number((entry as { version?: unknown }).version ?? 1) : 1;
    if (result.ok) rules.push({ rule: result.rule, version });
    else problems.push(`rule ${i}:\n${formatProblems(result.problems).replace(/^/gm, "  ")}`);
  });
  if (problems.length > 0) throw new Error(`invalid rules file\n${problems.join("\n")}`);
  return rules;
}

/**
 * A recording played through the engine, line by line, with the same code the gateway runs.
 * The clock that finds silent devices is a watermark from the stream itself: the newest `ts` seen
 * minus the allowed lateness; `finish` moves it to the newest `ts`, so the recording's tail is
 * judged but nothing beyond its end is invented.
 */
export function createReplay(options: ReplayOptions) {
  const lateness = options.allowedLatenessMs ?? 0;
  const engine = createRuleEngine(options.rules, { allowedLatenessMs: lateness });
  const lookup: DeviceLookup = (id) => {
    const entry = options.types?.[id];
    if (entry === undefined) return undefined;
    if (typeof entry === "string") return { deviceType: entry };
    const { type, ...device } = entry;
    return { deviceType: type, device };
  };
  const summary: ReplaySummary = {
    lines: 0,
    observations: 0,
    late: 0,
    skipped: {},
    devices: 0,
    detections: 0,
    detectionsByRule: {},
    firstEventAt: null,
    lastEventAt: null,
  };
  let first = Number.POSITIVE_INFINITY;
  let newest: number | undefined;

  function count(detections: Detection[]): Detection[] {
    summary.detections += detections.length;
    const byRule = summary.detectionsByRule;
    for (const d of detections) byRule[d.ruleId] = (byRule[d.ruleId] ?? 0) + 1;
    return detections;
  }

  return {
    /** One line of the recording; returns the detections it completed. */
    feed(line: string): Detection[] {
      if (line.trim() === "") return [];
      summary.lines += 1;
      const decoded = decodeRecordedLine(line, lookup, newest);
      if (!decoded.ok) {
        summary.skipped[decoded.reason] = (summary.skipped[decoded.reason] ?? 0) + 1;
        return [];
      }
      const { observation } = decoded;
      summary.observations += 1;
      first = Math.min(first, observation.ts);
      newest = Math.max(newest ?? observation.ts, observation.ts);
      const result = engine.evaluate(observation);
      if (result.late) summary.late += 1;
      return count([...result.detections, ...engine.advanceTo(newest - lateness)]);
    },
    finish(): Detection[] {
      return newest === undefined ? [] : count(engine.advanceTo(newest));
    },
    summary(): ReplaySummary {
      return {
        ...summary,
        devices: engine.deviceCount(),
        firstEventAt: Number.isFinite(first) ? new Date(first).toISOString() : null,
        lastEventAt: newest === undefined ? null : new Date(newest).toISOString(),
      };
    },
  };
}
