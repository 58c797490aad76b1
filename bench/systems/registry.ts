import { startCeiling } from './ceiling.js'
import { startPrecall } from './precall.js'
import { userBuilt } from './user-built.js'
import type { SystemContext, SystemUnderTest } from './system.js'

export const CEILING_LABEL = 'bare aedes (ceiling)'

/** Every system the bench can run, in the order it runs them; the ceiling comes first. */
export const SYSTEMS = {
  ceiling: { label: CEILING_LABEL, alerts: false, start: startCeiling },
  'precall-pg': { label: 'precall on PostgreSQL', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'postgres') },
  'precall-pg-thread': { label: 'precall on PostgreSQL, broker on its own thread', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'postgres', 'embedded-thread') },
  'precall-pglite': { label: 'precall on PGlite', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'pglite') },
  'precall-mosquitto': { label: 'precall on PostgreSQL behind Mosquitto', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'postgres', 'mosquitto') },
  'mosquitto-pg': { label: 'Mosquitto + MQTT.js → PostgreSQL', alerts: true, start: userBuilt('plain') },
  'node-red': { label: 'Mosquitto + Node-RED', alerts: true, start: userBuilt('node-red') },
} satisfies Record<string, { label: string; alerts: boolean; start(ctx: SystemContext): Promise<SystemUnderTest> }>

export type SystemName = keyof typeof SYSTEMS
