import { createClimate } from '../../device-sim/climate.js'
import { createGatewayApi, type GatewayApi } from '../../device-sim/gateway-api.js'
import { loadCatalogue, type CatalogueReport } from '../../device-sim/load-catalogue.js'
import { planFleet, type FleetOptions, type FleetPlan } from '../../device-sim/plan-fleet.js'
import { readCatalogue, type Catalogue } from '../../device-sim/read-catalogue.js'
import { registerFleet } from '../../device-sim/register-fleet.js'
import { runFleet, type FleetStats } from '../../device-sim/run-fleet.js'
import { startTestGateway, TEST_ADMIN_TOKEN, type TestGateway } from '../support/gateway.js'

export const HOUR = 3_600_000
export const DAY = 24 * HOUR

/**
 * Rule kinds the simulator tests load from the catalogue: the whole catalogue (every kind), so a
 * false alarm from any shipped rule fails the tests. DEVICE_SIM_RULE_KINDS=threshold narrows it to
 * threshold rules, to tell a rule-language problem from a catalogue one.
 */
export const RULE_KINDS = process.env.DEVICE_SIM_RULE_KINDS === 'threshold' ? ['threshold'] : 'all'

export type SimGateway = { t: TestGateway; api: GatewayApi; catalogue: Catalogue; loaded: CatalogueReport; close(): Promise<void> }

/** A real gateway (embedded aedes, PGlite in memory) with the catalogue's device types and rules. */
export async function startSimGateway(kinds: 'all' | string[] = RULE_KINDS): Promise<SimGateway> {
  // The scenarios replay history (summer 2026, for the air conditioners): kept past the default window.
  const t = await startTestGateway('pglite', { READINGS_RETENTION_DAYS: '3650' })
  const api = createGatewayApi({ url: `http://127.0.0.1:${t.httpPort}`, token: TEST_ADMIN_TOKEN })
  const full = readCatalogue()
  const catalogue = { ...full, rules: kinds === 'all' ? full.rules : full.rules.filter((r) => kinds.includes(r.when.kind)) }
  const loaded = await loadCatalogue(api, { catalogue })
  return { t, api, catalogue: full, loaded, close: () => t.close() }
}

/** Registers and plays a plan through the gateway as fast as it acknowledges, then waits for the rules. */
export async function playThrough(g: SimGateway, plan: FleetPlan, extra: { recorder?: Parameters<typeof runFleet>[0]['recorder'] } = {}): Promise<FleetStats> {
  const climate = createClimate()
  const reg = await registerFleet(g.api, plan, { catalogue: g.catalogue, utcOffsetHours: climate.utcOffsetHours })
  const stats = await runFleet({
    plan, catalogue: g.catalogue, climate, speed: 'max', recorder: extra.recorder,
    mqtt: { url: g.t.mqttUrl, secrets: reg.secrets, qos: 1 },
  })
  await g.t.gateway.settle()
  return stats
}

export function plan(options: Omit<FleetOptions, 'seed'> & { seed?: number }): FleetPlan {
  return planFleet({ seed: 42, ...options })
}
