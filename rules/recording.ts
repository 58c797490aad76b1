import { z } from "zod";
import { DEVICE_STATUSES, deviceInfoSchema, type Observation } from "./observation.js";

// The MQTT contract (DESIGN.md): ts is an ISO-8601 string or epoch milliseconds.
const timestampSchema = z.union([
  z.number().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const telemetrySchema = z.object({
  ts: timestampSchema,
  seq: z.number().int().optional(),
  metrics: z.record(z.string(), z.number()),
  state: z.string().optional(),
});
const eventSchema = z.object({
  ts: timestampSchema,
  seq: z.number().int().optional(),
  code: z.string().min(1),
  detail: z.record(z.string(), z.unknown()).optional(),
});
const statusSchema = z.object({ status: z.enum(DEVICE_STATUSES), ts: timestampSchema.optional() });

/** One line of a recording exported from the field, as the broker saw the message. */
export const recordedMessageSchema = z.object({
  deviceId: z.string().min(1).optional(),
  topic: z.string().regex(/^devices\/[^/]+\/(telemetry|events|status)$/, {
    error: "expected devices/<id>/telemetry, events or status",
  }),
  payload: z.unknown(),
  deviceType: z.string().min(1).optional(),
  device: deviceInfoSchema.optional(),
});
export type RecordedMessage = z.infer<typeof recordedMessageSchema>;

export type SkipReason =
  | "not_json"
  | "invalid_line"
  | "invalid_payload"
  | "unknown_device_type"
  | "status_without_time";

export type DecodedLine =
  | { ok: true; observation: Observation }
  | { ok: false; reason: SkipReason; detail: string };

/** What the replay knows about a device besides its messages. */
export type DeviceLookup = (
  deviceId: string,
) => { deviceType?: string; device?: Observation["device"] } | undefined;

/**
 * Decodes one line of a recording into an observation. Never throws: a field recording has
 * the odd broken line, and one must not stop a replay of millions. `clock` dates a status
 * message without a `ts` (retained statuses usually have none): the newest event time so far.
 */
export function decodeRecordedLine(
  line: string,
  lookup: DeviceLookup,
  clock: number | undefined,
): DecodedLine {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: "not_json", detail: (err as Error).message };
  }
  const message = recordedMessageSchema.safeParse(json);
  if (!message.success) return { ok: false, reason: "invalid_line", detail: z.prettifyError(message.error) };
  const { topic, payload } = message.data;
  const [, topicDevice, channel] = topic.split("/") as [string, string, string];
  const deviceId = message.data.deviceId ?? topicDevice;
  const known = lookup(deviceId);
  const deviceType = known?.deviceType ?? message.data.deviceType;
  if (!deviceType) {
    const detail = `no device type for ${deviceId}; pass --types or a deviceType field`;
    return { ok: false, reason: "unknown_device_type", detail };
  }
  const device = message.data.device ?? known?.device;
  const base = { deviceId, deviceType, ...(device ? { device } : {}) };

  const body = typeof payload === "string" && channel !== "status" ? tryJson(payload) : payload;
  if (channel === "telemetry") {
    const parsed = telemetrySchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    return { ok: true, observation: { kind: "telemetry", ...base, ...parsed.data } };
  }
  if (channel === "events") {
    const parsed = eventSchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    return { ok: true, observation: { kind: "event", ...base, ...parsed.data } };
  }
  // Status is usually a bare word ("offline" from the last will); JSON is accepted too.
  const text = typeof body === "string" ? body.trim() : undefined;
  const bare = text !== undefined && !text.startsWith("{");
  const parsed = statusSchema.safeParse(bare ? { status: text } : tryJson(body));
  if (!parsed.success) return invalid(parsed.error);
  const ts = parsed.data.ts ?? clock;
  if (ts === undefined) {
    const detail = "a status without ts before any timed message";
    return { ok: false, reason: "status_without_time", detail };
  }
  return { ok: true, observation: { kind: "status", ...base, ts, status: parsed.data.status } };
}

function tryJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function invalid(error: z.ZodError): DecodedLine {
  return { ok: false, reason: "invalid_payload", detail: z.prettifyError(error) };
}
