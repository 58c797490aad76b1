import type { Climate } from '../climate.js'
import type { FaultKindId } from '../fault-kinds.js'
import type { Prng } from '../prng.js'

export const PROFILE_IDS = ['washer', 'fridge', 'air-conditioner', 'water-heater'] as const
export type ProfileId = (typeof PROFILE_IDS)[number]

/** What an appliance reports, before the device layer numbers it and encodes it for MQTT. */
export type Reading =
  | { ts: number; channel: 'telemetry'; metrics: Record<string, number>; state?: string }
  | { ts: number; channel: 'events'; code: string; detail?: Record<string, unknown> }

/** The one fault a device carries, as the physics sees it. */
export type ActiveFault = {
  kind: FaultKindId
  startAt: number
  /** When the customer would notice; null for faults that are not failures (unplugged, garbage). */
  failureAt: number | null
  endAt: number | null
  /** 0 before the fault starts, rising to 1 at the failure (and staying there). */
  progress(ts: number): number
}

export type ProfileContext = {
  deviceId: string
  climate: Climate
  start: number
  intervalMs: number
  fault?: ActiveFault
  /** False while the appliance is unplugged: the physics keeps running (a fridge warms up). */
  powered(ts: number): boolean
  /** Independent streams, so a fault changes neither the household's habits nor the sensor noise. */
  usage: Prng
  noise: Prng
}

export type ApplianceModel = {
  /** Readings with ts in [t, t + intervalMs), in ts order. */
  tick(t: number): Reading[]
}

export type Profile = {
  id: ProfileId
  /** Device type registered in the gateway (see catalogue/device-types). */
  typeId: string
  name: string
  idPrefix: string
  models: readonly string[]
  intervalMs: number
  /** The sensor a flapping-sensor fault affects: an open thermistor reads a rail value. */
  sensor: { metric: string; rail: number; code: string }
  create(ctx: ProfileContext): ApplianceModel
}

export const MINUTE = 60_000
export const HOUR = 3_600_000

export const round = (value: number, decimals = 1) => {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}
export const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value))
