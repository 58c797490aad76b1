import { describe, expect, it } from "vitest";
import { DURATION_MESSAGE, durationSchema, parseDuration } from "../../rules/duration.js";
import { didYouMean, editDistance } from "../../rules/did-you-mean.js";

describe("durationSchema", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["0s", 0],
    [0, 0],
    [90_000, 90_000],
  ] as const)("%j is %d ms", (input, ms) => {
    expect(durationSchema.parse(input)).toBe(ms);
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(["10", "1.5h", "-5s", "10 m", "10M", "5w", "", "99999999999999d", -1, 1.5, Number.NaN, true, null])(
    "rejects %j with a clear message",
    (input) => {
      const result = durationSchema.safeParse(input);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.message)).toEqual([DURATION_MESSAGE]);
    },
  );

  it("parseDuration throws a RangeError naming the value", () => {
    expect(() => parseDuration("10 minutes")).toThrow(RangeError);
    expect(() => parseDuration("10 minutes")).toThrow('got "10 minutes"');
  });
});

describe("didYouMean", () => {
  it.each([
    ["drian", "drain", 1],
    ["kitten", "sitting", 3],
    ["", "abc", 3],
    ["same", "same", 0],
  ] as const)("distance %s → %s is %d", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });

  it("suggests only candidates within reach", () => {
    const metrics = ["drain_time_s", "spin_rpm", "water_temp_c"];
    expect(didYouMean("water_tmp_c", metrics)).toBe("water_temp_c");
    expect(didYouMean("Spin_RPM", metrics)).toBe("spin_rpm");
    expect(didYouMean("rpm", metrics)).toBeUndefined();
  });
});
