import type { Climate } from './climate.js'
import { FAULT_KINDS, type FaultKindId } from './fault-kinds.js'
import { garbageMessage } from './garbage-messages.js'
import { createPrng } from './prng.js'
import type { ActiveFault, ProfileId, Reading } from './profiles/profile.js'
import { PROFILES } from './profiles/profiles.js'
import type { DeviceTypeSpec } from './read-catalogue.js'

export type FaultSpec = { kind: FaultKindId; startAt: number; failureAt: number | null; endAt: number | null }

export type DeviceSpec = {
  id: string
  profile: ProfileId
  seed: number
  model: string
  customerId: string
  fault?: FaultSpec
}

/** What a device does, in event-time order: publish, or change its connection. */
export type SimItem =
  | { kind: 'publish'; ts: number; deviceId: string; topic: string; payload: string; retain: boolean }
  /** A clean DISCONNECT: the broker does not publish the last will. */
  | { kind: 'disconnect'; ts: number; deviceId: string }
  /** The connection dies without DISCONNECT: the broker publishes the last will (`offline`). */
  | { kind: 'drop'; ts: number; deviceId: string }
  | { kind: 'connect'; ts: number; deviceId: string }

export type StreamOptions = {
  start: number
  end: number
  climate: Climate
  type: DeviceTypeSpec
  intervalMs?: number
  /** At the end of the run: say `powered_off` before disconnecting, so absence rules stay quiet. */
  endStatus: 'powered_off' | 'none'
}

/**
 * One simulated device: its appliance physics plus what the fault does to the device itself
 * (unplugging, losing Wi-Fi, a flapping sensor, garbage). Pull items with `until(limit)`; the
 * sequence depends only on the spec and options, never on when or how often it is pulled.
 */
export function createDeviceStream(spec: DeviceSpec, opts: StreamOptions) {
  const profile = PROFILES[spec.profile]
  const intervalMs = opts.intervalMs ?? profile.intervalMs
  const root = createPrng(spec.seed)
  const fault = spec.fault
  const outage = fault?.kind === 'unplugged' ? { from: fault.startAt, to: fault.endAt ?? Infinity } : undefined
  const model = profile.create({
    deviceId: spec.id, climate: opts.climate, start: opts.start, intervalMs,
    fault: fault && activeFault(fault),
    powered: (ts) => !outage || ts < outage.from || ts >= outage.to,
    usage: root.fork('usage'), noise: root.fork('noise'),
  })
  const faultRng = root.fork('fault')
  const topic = (channel: string) => `devices/${spec.id}/${channel}`
  let seq = 0

  const publish = (ts: number, channel: string, body: object, retain = false): SimItem =>
    ({ kind: 'publish', ts, deviceId: spec.id, topic: topic(channel), payload: JSON.stringify(body), retain })
  const status = (ts: number, s: string) => publish(ts, 'status', { status: s, ts }, true)
  const encode = (r: Reading): SimItem => r.channel === 'telemetry'
    ? publish(r.ts, 'telemetry', { ts: r.ts, seq: seq++, metrics: r.metrics, ...(r.state ? { state: r.state } : {}) })
    : publish(r.ts, 'events', { ts: r.ts, seq: seq++, code: r.code, ...(r.detail ? { detail: r.detail } : {}) })

  function overlay(readings: Reading[]): Reading[] {
    if (fault?.kind !== 'flapping-sensor') return readings
    const { metric, rail, code } = profile.sensor
    const out: Reading[] = []
    for (const r of readings) {
      if (r.channel === 'telemetry' && metric in r.metrics && r.ts >= fault.startAt) {
        const p = fault.failureAt === null ? 1 : Math.min(1, (r.ts - fault.startAt) / (fault.failureAt - fault.startAt))
        if (faultRng.chance(0.25 + 0.75 * p)) {
          out.push({ ...r, metrics: { ...r.metrics, [metric]: rail } })
          out.push({ ts: r.ts + 1000, channel: 'events', code, detail: { metric, reading: rail } })
          continue
        }
      }
      out.push(r)
    }
    return out.sort((a, b) => a.ts - b.ts)
  }

  function* generate(): Generator<SimItem> {
    let connected = true
    yield status(opts.start, 'online')
    const controls: { ts: number; items: () => SimItem[] }[] = []
    if (outage) {
      controls.push({ ts: outage.from, items: () => { connected = false; return [status(outage.from, 'powered_off'), { kind: 'disconnect', ts: outage.from, deviceId: spec.id }] } })
      if (outage.to < opts.end) controls.push({ ts: outage.to, items: () => { connected = true; return [{ kind: 'connect', ts: outage.to, deviceId: spec.id }, status(outage.to, 'online')] } })
    }
    if (fault?.kind === 'wifi-lost') controls.push({ ts: fault.startAt, items: () => { connected = false; return [{ kind: 'drop', ts: fault.startAt, deviceId: spec.id }] } })

    for (let t = opts.start; t < opts.end; t += intervalMs) {
      const due: { ts: number; make: () => SimItem[] }[] = []
      while (controls.length > 0 && controls[0].ts < t + intervalMs) {
        const c = controls.shift()!
        due.push({ ts: c.ts, make: c.items })
      }
      for (const r of overlay(model.tick(t))) {
        if (r.ts < opts.end) due.push({ ts: r.ts, make: () => (connected ? [encode(r)] : []) })
      }
      if (fault?.kind === 'garbage' && t >= fault.startAt && faultRng.chance(0.25)) {
        const ts = t + 30_000
        const g = garbageMessage(faultRng, spec.id, opts.type, ts)
        due.push({ ts, make: () => (connected ? [{ kind: 'publish', ts, deviceId: spec.id, topic: g.topic, payload: g.payload, retain: false }] : []) })
      }
      // Stable: a control at the same ts as a reading takes effect first (it was scheduled first).
      due.sort((a, b) => a.ts - b.ts)
      for (const d of due) yield* d.make()
    }
    if (connected) {
      if (opts.endStatus === 'powered_off') yield status(opts.end, 'powered_off')
      yield { kind: 'disconnect', ts: opts.end, deviceId: spec.id }
    }
  }

  const items = generate()
  let peeked: IteratorResult<SimItem> = items.next()
  return {
    spec,
    /** Everything with ts ≤ limit not taken yet, in ts order. */
    until(limit: number): SimItem[] {
      const out: SimItem[] = []
      while (!peeked.done && peeked.value.ts <= limit) {
        out.push(peeked.value)
        peeked = items.next()
      }
      return out
    },
    get done() {
      return peeked.done === true
    },
  }
}

export type DeviceStream = ReturnType<typeof createDeviceStream>

function activeFault(f: FaultSpec): ActiveFault {
  const gradual = FAULT_KINDS[f.kind].shape === 'gradual'
  return {
    ...f,
    progress(ts) {
      if (ts < f.startAt) return 0
      if (!gradual || f.failureAt === null || f.failureAt <= f.startAt) return 1
      return Math.min(1, (ts - f.startAt) / (f.failureAt - f.startAt))
    },
  }
}
