import type { GatewayApi } from './gateway-api.js'
import { mapBounded } from './map-bounded.js'
import type { FleetPlan } from './plan-fleet.js'
import { hashSeed } from './prng.js'
import { PROFILES } from './profiles/profiles.js'
import { deviceTypeById, type Catalogue } from './read-catalogue.js'

export type Registration = {
  secrets: Map<string, string>
  created: number
  reused: number
  /** Reused devices the gateway has already seen later than this run starts: their readings will be late. */
  stale: string[]
}

/**
 * Registers the plan's device types (when missing), customers and devices through the API, a few
 * dozen calls at a time. An existing device gets a fresh secret instead (409 → POST …/secret), so a
 * fleet can be run again without being deleted first.
 */
export async function registerFleet(api: GatewayApi, plan: FleetPlan, opts: { catalogue: Catalogue; utcOffsetHours: number; parallel?: number }): Promise<Registration> {
  const parallel = opts.parallel ?? 16
  const typeIds = [...new Set(plan.devices.map((d) => PROFILES[d.profile].typeId))]
  for (const typeId of typeIds) {
    const found = await api.request('GET', `/device-types/${typeId}`)
    if (found.status === 404) await api.call('POST', '/device-types', deviceTypeById(opts.catalogue, typeId))
    else if (found.status !== 200) await api.call('GET', `/device-types/${typeId}`)
  }

  const timezone = timeZoneFor(opts.utcOffsetHours)
  await mapBounded(plan.devices, parallel, (d) => {
    const h = hashSeed(plan.seed, d.customerId)
    // A tenth of households are VIPs and a tenth elderly: tags that change priority and SLA.
    const tags = h % 10 === 0 ? ['vip'] : h % 10 === 1 ? ['elderly'] : []
    return api.ensureCustomer({
      id: d.customerId, name: `Household of ${d.id}`, locale: 'zh-CN', timezone, tags,
      // SMS first, the manufacturer's app (MQTT) as the fallback: without an SMS provider configured
      // the message fails over to the app, as it would for a customer whose phone is off.
      channels: [
        { type: 'sms', address: `+86138${String(h % 100_000_000).padStart(8, '0')}`, consent: true },
        { type: 'mqtt', address: d.customerId, consent: true },
      ],
    })
  })

  const results = await mapBounded(plan.devices, parallel, (d) => api.registerDevice({
    id: d.id, typeId: PROFILES[d.profile].typeId, customerId: d.customerId, model: d.model, serial: `SN-${d.id}`,
  }))
  const secrets = new Map(results.map((r) => [r.id, r.secret]))
  const stale = results.filter((r) => r.reused && r.statusAt && Date.parse(r.statusAt) > plan.start).map((r) => r.id)
  return { secrets, created: results.filter((r) => !r.reused).length, reused: results.filter((r) => r.reused).length, stale }
}

/** IANA has fixed-offset zones for whole hours (note the inverted sign of Etc/GMT). */
function timeZoneFor(offsetHours: number): string {
  if (offsetHours === 8) return 'Asia/Shanghai'
  if (!Number.isInteger(offsetHours) || offsetHours === 0) return 'UTC'
  return `Etc/GMT${offsetHours > 0 ? '-' : '+'}${Math.abs(offsetHours)}`
}
