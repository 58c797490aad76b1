import { createTestDatabaseUrl } from '../../test/support/databases.js'
import { startChild } from '../child-process.js'
import { FAULT_METRIC, FAULT_THRESHOLD } from '../fault-clock.js'
import { startMosquitto } from '../../test/support/mosquitto.js'
import { benchDeviceIds, fetchProcessed, type SystemContext, type SystemUnderTest } from './system.js'

/**
 * What a user would build instead: Mosquitto plus one subscriber applying the same threshold
 * (`plain`: MQTT.js inserting each reading into PostgreSQL; `node-red`: a stock Node-RED flow).
 * The subscriber asks for QoS 1; MQTT delivers each message at the lower of the publish and the
 * subscription QoS, so it follows the QoS of the load. Devices connect anonymously.
 */
export function userBuilt(kind: 'plain' | 'node-red') {
  return async (ctx: SystemContext): Promise<SystemUnderTest> => {
    const pg = kind === 'plain' ? await createTestDatabaseUrl() : undefined
    const broker = await startMosquitto().catch(async (err) => { await pg?.drop(); throw err })
    try {
      const env = {
        MQTT_URL: broker.url, ALERT_URL: ctx.alertUrl, QOS: '1', THRESHOLD_METRIC: FAULT_METRIC, THRESHOLD: String(FAULT_THRESHOLD),
        ...(pg ? { DATABASE_URL: pg.url } : {}),
      }
      const script = kind === 'plain' ? 'bench/systems/plain-subscriber.ts' : 'bench/systems/node-red-baseline.ts'
      const child = await startChild([script], { name: kind === 'plain' ? 'plain subscriber' : 'Node-RED', env })
      const countUrl = `http://127.0.0.1:${child.ready.httpPort}${kind === 'plain' ? '/processed' : '/bench/processed'}`
      return {
        mqttUrl: broker.url,
        devices: benchDeviceIds(ctx.devices).map((id) => ({ id })),
        processed: () => fetchProcessed(countUrl),
        pids: [broker.pid, child.pid],
        async stop() {
          await child.stop()
          await broker.stop()
          await pg?.drop()
        },
      }
    } catch (err) {
      await broker.stop()
      await pg?.drop()
      throw err
    }
  }
}
