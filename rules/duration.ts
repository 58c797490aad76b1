import { z } from "zod";

export const DURATION_MESSAGE = 'expected a duration like "10m", "24h", "7d" or milliseconds';

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

// Integers only: "1.5h" reads ambiguously in rule reviews and "90m" says the same thing exactly.
const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

function toMilliseconds(input: unknown): number | undefined {
  if (typeof input === "number") {
    return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  }
  if (typeof input !== "string") return undefined;
  const match = DURATION_PATTERN.exec(input);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  // A typo like "99999999999d" must fail loudly rather than turn into a lossy float.
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * `"500ms" | "30s" | "10m" | "24h" | "7d" | <non-negative integer ms>` → milliseconds.
 * The input side stays `string | number` so JSON Schema generated from rule documents is honest.
 */
export const durationSchema = z
  .union([z.string(), z.number()], {
    // Same wording as every other missing field, rather than a format hint for nothing.
    error: (issue) => (issue.input === undefined ? "is required" : DURATION_MESSAGE),
  })
  .transform((input, ctx) => {
    const ms = toMilliseconds(input);
    if (ms === undefined) {
      ctx.issues.push({ code: "custom", message: DURATION_MESSAGE, input });
      return z.NEVER;
    }
    return ms;
  });

export type Duration = z.output<typeof durationSchema>;

/** Windows, horizons and silences: one of 0 ms would hold nothing, so it is refused rather than run. */
export const positiveDurationSchema = durationSchema.refine((ms) => ms > 0, {
  error: "must be longer than 0",
});

/** For durations written in code or config; rule documents go through `durationSchema` instead. */
export function parseDuration(input: string | number): number {
  const ms = toMilliseconds(input);
  if (ms === undefined) {
    throw new RangeError(`${DURATION_MESSAGE}, got ${JSON.stringify(input)}`);
  }
  return ms;
}
