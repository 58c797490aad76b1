import { startCeiling } from './ceiling.js'
import { startPrecall } from './precall.js'
import type { SystemContext, SystemUnderTest } from './system.js'

export const CEILING_LABEL = 'bare aedes (ceiling)'

/** Every system the bench can run, in the order it runs them; the ceiling comes first. */
export const SYSTEMS = {
  ceiling: { label: CEILING_LABEL, alerts: false, start: startCeiling },
  'precall-pg': { label: 'precall on PostgreSQL', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'postgres') },
  'precall-pglite': { label: 'precall on PGlite', alerts: true, start: (ctx: SystemContext) => startPrecall(ctx, 'pglite') },
} satisfies Record<string, { label: string; alerts: boolean; start(ctx: SystemContext): Promise<SystemUnderTest> }>

export type SystemName = keyof typeof SYSTEMS
