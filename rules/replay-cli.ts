import { once } from "node:events";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { parseDuration } from "./duration.js";
import type { Detection } from "./detection.js";
import { createReplay, deviceTypesFileSchema, loadRules } from "./replay.js";

const USAGE = `usage: npm run replay -- RECORDING.jsonl --rules RULES.json
                         [--types TYPES.json] [--lateness 5m]

Streams a JSON-lines recording ({"deviceId","topic","payload"} per line, in event-time order)
through the rule engine offline. Detections go to stdout as JSON lines; a summary goes to stderr.
  --rules     a rule document, a list of them, or a list of {"rule","version"}
  --types     {"<deviceId>": "<typeId>"} or {"<deviceId>": {"type","model","firmware","customerTags"}};
              without it each line needs a "deviceType" field
  --lateness  how far out of order lines may be (default 0); the absence clock trails by as much`;

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, "utf8"));
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rules: { type: "string" },
      types: { type: "string" },
      lateness: { type: "string", default: "0ms" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length !== 1 || !values.rules) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const replay = createReplay({
    rules: loadRules(await readJson(values.rules)),
    types: values.types ? deviceTypesFileSchema.parse(await readJson(values.types)) : undefined,
    allowedLatenessMs: parseDuration(values.lateness),
  });

  // A readline over a file stream keeps memory flat on recordings of any size; waiting for
  // stdout to drain keeps it flat when the reader of our output is slower than we are.
  const write = async (detections: Detection[]) => {
    for (const d of detections) {
      if (!process.stdout.write(`${JSON.stringify(d)}\n`)) await once(process.stdout, "drain");
    }
  };
  const input = createReadStream(positionals[0]!);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) await write(replay.feed(line));
  await write(replay.finish());
  process.stderr.write(`${JSON.stringify({ summary: replay.summary() })}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`replay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
