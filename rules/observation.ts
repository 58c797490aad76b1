import { z } from "zod";

// Event time in epoch milliseconds. Ingest converts ISO-8601 strings before the engine sees them,
// so the engine compares plain numbers and never reads the wall clock.
const eventTimeSchema = z.number().nonnegative();

/**
 * What rule selectors and per-customer overrides look at. Optional, so callers that only know
 * the device type keep working; the engine remembers the latest one it was given per device.
 */
export const deviceInfoSchema = z.object({
  model: z.string().optional(),
  firmware: z.string().optional(),
  customerTags: z.array(z.string()).optional(),
});
export type DeviceInfo = z.infer<typeof deviceInfoSchema>;

const deviceFields = {
  deviceId: z.string().min(1),
  deviceType: z.string().min(1),
  ts: eventTimeSchema,
  device: deviceInfoSchema.optional(),
};

export const telemetryObservationSchema = z.object({
  kind: z.literal("telemetry"),
  ...deviceFields,
  seq: z.number().int().optional(),
  metrics: z.record(z.string(), z.number()),
  state: z.string().optional(),
});

export const eventObservationSchema = z.object({
  kind: z.literal("event"),
  ...deviceFields,
  seq: z.number().int().optional(),
  code: z.string().min(1),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const DEVICE_STATUSES = ["online", "offline", "powered_off"] as const;

export const statusObservationSchema = z.object({
  kind: z.literal("status"),
  ...deviceFields,
  status: z.enum(DEVICE_STATUSES),
});

/** What the engine consumes: one decoded, validated message from a device, stamped with event time. */
export const observationSchema = z.discriminatedUnion("kind", [
  telemetryObservationSchema,
  eventObservationSchema,
  statusObservationSchema,
]);

export type Observation = z.infer<typeof observationSchema>;
export type TelemetryObservation = z.infer<typeof telemetryObservationSchema>;
export type EventObservation = z.infer<typeof eventObservationSchema>;
export type StatusObservation = z.infer<typeof statusObservationSchema>;
export type DeviceStatus = StatusObservation["status"];
