import { execFile } from "node:child_process";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplay, loadRules } from "../../rules/replay.js";

const run = promisify(execFile);
const fixture = (name: string) => join(import.meta.dirname, "replay", name);
const readJson = async (name: string) => JSON.parse(await readFile(fixture(name), "utf8")) as unknown;
const summarize = (d: { ruleId: string; deviceId: string; detectedAt: number; mode: string }) =>
  [d.ruleId, d.deviceId, new Date(d.detectedAt).toISOString().slice(11, 16), d.mode];

async function replayFixture() {
  const replay = createReplay({
    rules: loadRules(await readJson("rules.json")),
    types: (await readJson("types.json")) as Record<string, string>,
  });
  const lines = (await readFile(fixture("recording.jsonl"), "utf8")).split("\n");
  const detections = [...lines.flatMap((line) => replay.feed(line)), ...replay.finish()];
  return { detections, summary: replay.summary() };
}

describe("replay", () => {
  it("finds the slow drain, the error burst and the silent washer, but not the one powered off", async () => {
    const { detections, summary } = await replayFixture();
    expect(detections.map(summarize)).toEqual([
      ["washer-drain-slow", "wm-1", "08:10", "active"],
      ["washer-door-errors", "wm-1", "08:15", "active"],
      ["washer-offline", "wm-1", "08:50", "shadow"],
    ]);
    expect(summary).toEqual({
      lines: 21,
      observations: 19,
      late: 0,
      skipped: { not_json: 1, invalid_line: 1 },
      devices: 3,
      detections: 3,
      detectionsByRule: { "washer-drain-slow": 1, "washer-door-errors": 1, "washer-offline": 1 },
      firstEventAt: "2024-03-01T08:00:00.000Z",
      lastEventAt: "2024-03-01T09:00:00.000Z",
    });
  });

  it("puts lines back in order within the lateness and counts the later ones", () => {
    const rule = { id: "hot", name: "Hot", deviceType: "washer", severity: "minor", ticket: { problem: "hot", title: "Hot" }, when: { kind: "threshold", metric: "t", op: ">", value: 50, for: "10m" } };
    const line = (minute: number, t: number) =>
      JSON.stringify({ topic: "devices/wm-9/telemetry", deviceType: "washer", payload: { ts: Date.UTC(2024, 0, 1, 0, minute), metrics: { t } } });
    const replay = createReplay({ rules: loadRules([rule]), allowedLatenessMs: 5 * 60_000 });
    const detections = [line(0, 60), line(10, 60), line(5, 40), line(1, 40), line(20, 60), line(30, 60)].flatMap((l) => replay.feed(l));
    expect([...detections, ...replay.finish()].map(summarize)).toEqual([["hot", "wm-9", "00:20", "active"]]);
    expect(replay.summary()).toMatchObject({ observations: 6, late: 1 });
  });

  it("refuses a rules file with every problem and its path", () => {
    expect(() => loadRules([{ id: "x", when: { kind: "count", codes: [] } }])).toThrow(/rule 0:\n {2}name: is required[\s\S]*when\.codes: must list at least one event code/);
  });

  describe("command line", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "precall-replay-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const cli = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../../rules/replay-cli.ts"), ...args]);

    it("prints the same detections as JSON lines and the summary on stderr", async () => {
      const { stdout, stderr } = await cli(fixture("recording.jsonl"), "--rules", fixture("rules.json"), "--types", fixture("types.json"));
      const { detections, summary } = await replayFixture();
      expect(stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual(detections);
      expect(JSON.parse(stderr)).toEqual({ summary });
    });

    it("exits 1 naming the problem when the rules do not validate", async () => {
      const bad = join(dir, "bad-rules.json");
      await writeFile(bad, JSON.stringify({ ...((await readJson("rules.json")) as object[])[0], when: { kind: "absence" } }));
      await expect(cli(fixture("recording.jsonl"), "--rules", bad)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("when.for: is required") });
    });

    it("exits 2 with usage when the recording or --rules is missing", async () => {
      await expect(cli("--rules", fixture("rules.json"))).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("usage:") });
    });
  });
});
