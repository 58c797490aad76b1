import type { DeviceSpec, FaultSpec } from './device-stream.js'
import { FAULT_KIND_IDS, FAULT_KINDS, faultAppliesTo, faultTimeline, type FaultKindId } from './fault-kinds.js'
import { createPrng, hashSeed } from './prng.js'
import { PROFILE_IDS, type ProfileId } from './profiles/profile.js'
import { PROFILES } from './profiles/profiles.js'

export type FaultRequest = {
  kind: FaultKindId
  /** A device id, or else the first `count` devices of `profile` (any profile it applies to) without a fault. */
  device?: string
  profile?: ProfileId
  count?: number
  /** Offset from the simulation start; random in the first 10–40 % of the span when absent. */
  startAfterMs?: number
  durationMs?: number
}

export type FleetOptions = {
  seed: number
  start: number
  spanMs: number
  idPrefix: string
  fleet: { profile: ProfileId; count: number }[]
  faults?: FaultRequest[]
  /** Share of the remaining healthy devices that get a random fault, 0–1. */
  randomFaults?: number
}

export type GroundTruthFault = {
  deviceId: string
  deviceType: string
  kind: FaultKindId
  startAt: string
  failureAt: string | null
  endAt: string | null
  expectTicket: boolean
  problems: string[]
  thresholdDetectable: boolean
  describe: string
}
export type GroundTruth = { seed: number; start: string; end: string; devices: { id: string; deviceType: string }[]; faults: GroundTruthFault[] }
export type FleetPlan = { seed: number; start: number; end: number; devices: DeviceSpec[]; groundTruth: GroundTruth }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** Builds the fleet and places its faults; everything follows from the seed. */
export function planFleet(o: FleetOptions): FleetPlan {
  const end = o.start + o.spanMs
  const rng = createPrng(hashSeed(o.seed, 'plan'))
  const devices: DeviceSpec[] = []
  const perProfile = new Map<ProfileId, number>()
  for (const group of o.fleet) {
    for (let i = 0; i < group.count; i++) {
      const profile = PROFILES[group.profile]
      const n = (perProfile.get(group.profile) ?? 0) + 1
      perProfile.set(group.profile, n)
      const id = `${o.idPrefix}${profile.idPrefix}-${String(n).padStart(4, '0')}`
      devices.push({ id, profile: group.profile, seed: hashSeed(o.seed, id), model: rng.pick(profile.models), customerId: `cust-${id}` })
    }
  }

  const place = (device: DeviceSpec, kind: FaultKindId, startAfterMs?: number, durationMs?: number) => {
    const startAt = o.start + Math.round(startAfterMs ?? rng.range(0.1, 0.4) * o.spanMs)
    // Random placements fit the failure inside the run, so the scorer can see it happen.
    const duration = durationMs ?? Math.min(FAULT_KINDS[kind].defaultDurationMs, Math.max(3_600_000, 0.85 * (end - startAt)))
    const t = faultTimeline(kind, device.profile, startAt, Math.round(duration))
    device.fault = { kind, ...t } satisfies FaultSpec
  }

  for (const request of o.faults ?? []) {
    const wanted = request.device ? 1 : request.count ?? 1
    const candidates = request.device
      ? devices.filter((d) => d.id === request.device)
      : devices.filter((d) => !d.fault && (!request.profile || d.profile === request.profile) && faultAppliesTo(request.kind, d.profile))
    if (request.device && candidates.length === 0) throw new Error(`fault ${request.kind}: no device ${request.device} in the fleet`)
    if (request.device && !faultAppliesTo(request.kind, candidates[0].profile)) throw new Error(`fault ${request.kind} does not apply to ${candidates[0].profile} (${request.device})`)
    if (candidates.length < wanted) throw new Error(`fault ${request.kind}: wanted ${wanted} device(s)${request.profile ? ` of profile ${request.profile}` : ''}, only ${candidates.length} without a fault`)
    for (const d of candidates.slice(0, wanted)) place(d, request.kind, request.startAfterMs, request.durationMs)
  }

  const healthy = devices.filter((d) => !d.fault)
  const randomCount = Math.round((o.randomFaults ?? 0) * devices.length)
  for (let i = healthy.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[healthy[i], healthy[j]] = [healthy[j], healthy[i]]
  }
  for (const d of healthy.slice(0, randomCount)) {
    const kinds = FAULT_KIND_IDS.filter((k) => faultAppliesTo(k, d.profile))
    let r = rng.range(0, kinds.reduce((s, k) => s + FAULT_KINDS[k].weight, 0))
    place(d, kinds.find((k) => (r -= FAULT_KINDS[k].weight) < 0) ?? kinds[0])
  }

  return {
    seed: o.seed, start: o.start, end, devices,
    groundTruth: {
      seed: o.seed, start: iso(o.start)!, end: iso(end)!,
      devices: devices.map((d) => ({ id: d.id, deviceType: PROFILES[d.profile].typeId })),
      faults: devices.filter((d) => d.fault).map((d) => {
        const f = d.fault!
        const kind = FAULT_KINDS[f.kind]
        return {
          deviceId: d.id, deviceType: PROFILES[d.profile].typeId, kind: f.kind,
          startAt: iso(f.startAt)!, failureAt: iso(f.failureAt), endAt: iso(f.endAt),
          expectTicket: kind.expectTicket, problems: kind.problems[d.profile] ?? [],
          thresholdDetectable: kind.thresholdDetectable, describe: kind.describe,
        }
      }),
    },
  }
}

/** `mixed` spreads devices evenly over every profile, in a fixed order. */
export function fleetOf(profile: ProfileId | 'mixed', count: number): FleetOptions['fleet'] {
  if (profile !== 'mixed') return [{ profile, count }]
  return PROFILE_IDS.map((p, i) => ({ profile: p, count: Math.floor(count / PROFILE_IDS.length) + (i < count % PROFILE_IDS.length ? 1 : 0) }))
    .filter((g) => g.count > 0)
}
