import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { customerInput, deviceInput, deviceTypeInput, type FleetStore } from '../../fleet/fleet-store.js'

const WRITE = ['admin', 'ops'] as const
const READ = ['admin', 'ops', 'crm', 'viewer'] as const
const idParams = z.object({ id: z.string().min(1).max(64) })
const limit = z.coerce.number().int().min(1).max(1000).default(100)

export const fleetRoutes: FastifyPluginAsyncZod<{ fleet: FleetStore }> = async (app, { fleet }) => {
  app.post('/device-types', {
    config: { roles: WRITE },
    schema: { tags: ['fleet'], summary: 'Register or replace a device type (its metrics, units and valid ranges)', body: deviceTypeInput },
  }, async (req, reply) => reply.status(201).send(await fleet.upsertDeviceType(req.body)))
  app.get('/device-types', { config: { roles: READ }, schema: { tags: ['fleet'] } }, () => fleet.listDeviceTypes())
  app.get('/device-types/:id', { config: { roles: READ }, schema: { tags: ['fleet'], params: idParams } }, (req) => fleet.getDeviceType(req.params.id))

  app.post('/customers', {
    config: { roles: [...WRITE, 'crm'] },
    schema: { tags: ['fleet'], summary: 'Register a customer', body: customerInput },
  }, async (req, reply) => reply.status(201).send(await fleet.createCustomer(req.body)))
  app.get('/customers', { config: { roles: READ }, schema: { tags: ['fleet'], querystring: z.object({ limit }) } }, (req) => fleet.listCustomers(req.query.limit))
  app.get('/customers/:id', { config: { roles: READ }, schema: { tags: ['fleet'], params: idParams } }, (req) => fleet.getCustomer(req.params.id))

  app.post('/devices', {
    config: { roles: WRITE },
    schema: { tags: ['fleet'], summary: 'Register a device; the response carries its MQTT secret, shown only this once', body: deviceInput },
  }, async (req, reply) => {
    const { device, secret } = await fleet.createDevice(req.body)
    return reply.status(201).send({ id: device.id, secret, device })
  })
  app.post('/devices/:id/secret', {
    config: { roles: WRITE },
    schema: { tags: ['fleet'], summary: 'Issue a new MQTT secret for a device (the old one stops working)', params: idParams },
  }, async (req) => {
    const { device, secret } = await fleet.rotateDeviceSecret(req.params.id)
    return { id: device.id, secret, device }
  })
  app.get('/devices', {
    config: { roles: READ }, schema: { tags: ['fleet'], querystring: z.object({ customerId: z.string().optional(), limit }) },
  }, (req) => fleet.listDevices(req.query))
  app.get('/devices/:id', { config: { roles: READ }, schema: { tags: ['fleet'], params: idParams } }, (req) => fleet.getDevice(req.params.id))
}
