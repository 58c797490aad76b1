import { asc, eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Database } from '../db/database.js'
import { randomSecret } from '../db/ids.js'
import { customers, devices, deviceTypes } from '../db/schema.js'
import { PrecallError } from '../errors.js'
import type { DeviceDirectory } from './device-directory.js'
import { hashSecret } from './device-secret.js'

const slug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'use 1–64 lowercase letters, digits, "-" or "_"')
const tag = z.string().regex(/^[a-z0-9][a-z0-9_:.-]{0,63}$/, 'tags are 1–64 lowercase letters, digits, "-", "_", "." or ":" (e.g. warranty:extended)')
const deviceIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'use 1–64 letters, digits, ".", "-" or "_" (it becomes an MQTT topic level)')

const metricSpec = z.strictObject({
  unit: z.string().max(16).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  description: z.string().max(200).optional(),
}).refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, { message: 'min must not exceed max' })

export const deviceTypeInput = z.strictObject({
  id: slug,
  name: z.string().min(1).max(120),
  metrics: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'metric names are snake_case'), metricSpec)
    .refine((m) => Object.keys(m).length > 0, { message: 'a device type needs at least one metric' }),
  eventCodes: z.array(z.string().min(1).max(64)).default([]),
  /** Event codes that mean the appliance was serviced (e.g. `filter_replaced`): rules learn afresh after them. */
  maintenanceCodes: z.array(z.string().min(1).max(64)).default([]),
})

export const customerInput = z.strictObject({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  locale: z.string().min(2).max(16).default('en'),
  timezone: z.string().refine(isTimeZone, { message: 'unknown IANA time zone, e.g. "Asia/Shanghai"' }).default('UTC'),
  tags: z.array(tag).default([]),
  channels: z.array(z.strictObject({ type: z.enum(['sms', 'email', 'push', 'wechat', 'mqtt']), address: z.string().min(1).max(320), consent: z.boolean() })).default([]),
})

export const deviceInput = z.strictObject({
  id: deviceIdSchema,
  typeId: slug,
  customerId: z.string().min(1).max(64).optional(),
  model: z.string().max(64).optional(),
  serial: z.string().max(64).optional(),
  firmware: z.string().max(64).optional(),
})

function isTimeZone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en', { timeZone: tz }); return true } catch { return false }
}

/** The registry of device types, customers and devices that ingest and rules read. */
export function createFleetStore(database: Database, directory: DeviceDirectory) {
  const { db } = database

  async function upsertDeviceType(input: z.output<typeof deviceTypeInput>) {
    const [row] = await db.insert(deviceTypes).values(input)
      .onConflictDoUpdate({ target: deviceTypes.id, set: { name: input.name, metrics: input.metrics, eventCodes: input.eventCodes, maintenanceCodes: input.maintenanceCodes, updatedAt: sql`now()` } })
      .returning()
    directory.invalidate()
    return row
  }

  async function createCustomer(input: z.output<typeof customerInput>) {
    const [row] = await db.insert(customers).values(input).onConflictDoNothing().returning()
    if (!row) throw new PrecallError('CONFLICT', `customer ${input.id} already exists`)
    return row
  }

  async function createDevice(input: z.output<typeof deviceInput>) {
    const [type] = await db.select({ id: deviceTypes.id }).from(deviceTypes).where(eq(deviceTypes.id, input.typeId))
    if (!type) throw new PrecallError('VALIDATION', `typeId: unknown device type "${input.typeId}"; register it with POST /api/v1/device-types first`)
    if (input.customerId) {
      const [c] = await db.select({ id: customers.id }).from(customers).where(eq(customers.id, input.customerId))
      if (!c) throw new PrecallError('VALIDATION', `customerId: unknown customer "${input.customerId}"`)
    }
    const secret = randomSecret()
    const [row] = await db.insert(devices).values({ ...input, secretHash: await hashSecret(secret) }).onConflictDoNothing().returning()
    if (!row) throw new PrecallError('CONFLICT', `device ${input.id} (or serial ${input.serial}) already exists`)
    return { device: publicDevice(row), secret }
  }

  async function rotateDeviceSecret(id: string) {
    const secret = randomSecret()
    const [row] = await db.update(devices).set({ secretHash: await hashSecret(secret) }).where(eq(devices.id, id)).returning()
    if (!row) throw new PrecallError('NOT_FOUND', `device ${id} does not exist`)
    directory.invalidate(id)
    return { device: publicDevice(row), secret }
  }

  const one = async <T>(rows: Promise<T[]>, what: string): Promise<T> => {
    const [row] = await rows
    if (!row) throw new PrecallError('NOT_FOUND', `${what} does not exist`)
    return row
  }

  return {
    upsertDeviceType,
    listDeviceTypes: () => db.select().from(deviceTypes).orderBy(asc(deviceTypes.id)),
    getDeviceType: (id: string) => one(db.select().from(deviceTypes).where(eq(deviceTypes.id, id)), `device type ${id}`),
    createCustomer,
    listCustomers: (limit: number) => db.select().from(customers).orderBy(asc(customers.id)).limit(limit),
    getCustomer: (id: string) => one(db.select().from(customers).where(eq(customers.id, id)), `customer ${id}`),
    createDevice,
    rotateDeviceSecret,
    listDevices: async (f: { customerId?: string; limit: number }) =>
      (await db.select().from(devices).where(f.customerId ? eq(devices.customerId, f.customerId) : undefined).orderBy(asc(devices.id)).limit(f.limit)).map(publicDevice),
    getDevice: async (id: string) => publicDevice(await one(db.select().from(devices).where(eq(devices.id, id)), `device ${id}`)),
    async setDeviceStatus(id: string, status: string, at: Date) {
      await db.update(devices).set({ status, statusAt: at }).where(eq(devices.id, id))
    },
  }
}

function publicDevice(row: typeof devices.$inferSelect) {
  const { secretHash: _, ...rest } = row
  return rest
}

export type FleetStore = ReturnType<typeof createFleetStore>
