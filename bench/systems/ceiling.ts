import { startChild } from '../child-process.js'
import { benchDeviceIds, fetchProcessed, type SystemContext, type SystemUnderTest } from './system.js'

/** Bare aedes with a subscriber that only counts: the broker's own limit on this machine. */
export async function startCeiling(ctx: SystemContext): Promise<SystemUnderTest> {
  const child = await startChild(['bench/systems/bare-aedes.ts'], { name: 'bare aedes' })
  return {
    mqttUrl: `mqtt://127.0.0.1:${child.ready.mqttPort}`,
    devices: benchDeviceIds(ctx.devices).map((id) => ({ id })),
    processed: () => fetchProcessed(`http://127.0.0.1:${child.ready.httpPort}/`),
    pids: [child.pid],
    stop: child.stop,
  }
}
