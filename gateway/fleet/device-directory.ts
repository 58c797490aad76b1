import { eq, inArray } from 'drizzle-orm'
import type { Database } from '../db/database.js'
import { devices, deviceTypes, customers, type MetricSpec } from '../db/schema.js'
import { fingerprint, verifySecret } from './device-secret.js'

export type DeviceProfile = {
  id: string
  typeId: string
  customerId: string | null
  customerTags: string[]
  customerTimezone: string
  model: string | null
  firmware: string | null
  secretHash: string
  metrics: Record<string, MetricSpec>
  eventCodes: string[]
  maintenanceCodes: string[]
  /** What rule selectors and overrides read, built once: the engine recognises it by reference. */
  attributes: { model?: string; firmware?: string; customerTags: string[] }
}

/** Devices looked up in one query at most. */
const LOOKUP_BATCH = 1000

/**
 * What ingest needs to know about a device on every message, cached in memory: one query per
 * device per process instead of one per message. The registry invalidates on every change.
 */
export function createDeviceDirectory(database: Database) {
  const cache = new Map<string, Promise<DeviceProfile | undefined>>()
  const resolved = new Map<string, DeviceProfile>()
  const verified = new Map<string, string>()

  // Devices not yet cached are looked up together: those asked for in one turn of the event loop
  // go in one query (a gateway starting under a fleet, or a fleet reconnecting, asks for thousands
  // at once). One query each, 5,000 devices publishing behind Mosquitto to a gateway just started
  // took seconds to look up, while the broker's queue for the gateway overflowed and it dropped 5 %
  // of the readings it had acknowledged (`npm run bench`'s precall-mosquitto, cold).
  let waiting: Map<string, { resolve(p: DeviceProfile | undefined): void; reject(err: unknown): void }[]> | undefined

  function lookUp(id: string): Promise<DeviceProfile | undefined> {
    return new Promise((resolve, reject) => {
      if (!waiting) {
        waiting = new Map()
        setImmediate(fetchWaiting)
      }
      const callers = waiting.get(id)
      if (callers) callers.push({ resolve, reject })
      else waiting.set(id, [{ resolve, reject }])
    })
  }

  function fetchWaiting() {
    const batch = waiting!
    waiting = undefined
    const ids = [...batch.keys()]
    for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
      const chunk = ids.slice(i, i + LOOKUP_BATCH)
      fetchProfiles(chunk).then((found) => {
        for (const id of chunk) for (const c of batch.get(id)!) c.resolve(found.get(id))
      }, (err: unknown) => {
        for (const id of chunk) for (const c of batch.get(id)!) c.reject(err)
      })
    }
  }

  async function fetchProfiles(ids: string[]): Promise<Map<string, DeviceProfile>> {
    const rows = await database.db
      .select({ device: devices, type: deviceTypes, tags: customers.tags, timezone: customers.timezone })
      .from(devices)
      .innerJoin(deviceTypes, eq(devices.typeId, deviceTypes.id))
      .leftJoin(customers, eq(devices.customerId, customers.id))
      .where(inArray(devices.id, ids))
    return new Map(rows.map((row) => {
      const customerTags = row.tags ?? []
      return [row.device.id, {
        attributes: { ...(row.device.model ? { model: row.device.model } : {}), ...(row.device.firmware ? { firmware: row.device.firmware } : {}), customerTags },
        id: row.device.id, typeId: row.device.typeId, customerId: row.device.customerId,
        customerTags, customerTimezone: row.timezone ?? 'UTC', model: row.device.model, firmware: row.device.firmware,
        secretHash: row.device.secretHash, metrics: row.type.metrics, eventCodes: row.type.eventCodes, maintenanceCodes: row.type.maintenanceCodes,
      }]
    }))
  }

  function get(id: string): Promise<DeviceProfile | undefined> {
    let p = cache.get(id)
    if (!p) {
      p = lookUp(id)
      cache.set(id, p)
      p.then((found) => {
        if (found && cache.get(id) === p) resolved.set(id, found)
        else if (!found) cache.delete(id)
      }, () => cache.delete(id))
    }
    return p
  }

  return {
    get,
    /** The profile if it is already cached: the rule runner evaluates synchronously after commit. */
    peek: (id: string) => resolved.get(id),
    async authenticate(id: string, secret: string): Promise<DeviceProfile | undefined> {
      const profile = await get(id)
      if (!profile) return undefined
      const fp = fingerprint(secret)
      if (verified.get(id) === fp) return profile
      if (!(await verifySecret(secret, profile.secretHash))) return undefined
      verified.set(id, fp)
      return profile
    },
    invalidate(id?: string) {
      if (id === undefined) { cache.clear(); resolved.clear(); verified.clear(); return }
      cache.delete(id)
      resolved.delete(id)
      verified.delete(id)
    },
  }
}

export type DeviceDirectory = ReturnType<typeof createDeviceDirectory>
