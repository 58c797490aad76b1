import pino from 'pino'
import { ConfigError, loadConfig } from './config/load-config.js'
import { buildGateway } from './gateway.js'

let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`precall: ${err.message}\n`)
  process.exit(78) // EX_CONFIG
}

const log = pino({ level: config.logLevel })
const gateway = await buildGateway(config, { log })
// Before listening: if a port is taken the token must still have been shown, or it is lost.
if (gateway.generatedAdminToken) {
  log.warn({ adminToken: gateway.generatedAdminToken }, 'generated an admin token; it is stored hashed and shown only now — keep it')
}
const { httpPort, mqttPort } = await gateway.listen().catch(async (err: NodeJS.ErrnoException & { port?: number }) => {
  if (err.code !== 'EADDRINUSE') throw err
  const which = err.port === config.mqtt.port ? 'MQTT_PORT' : 'HTTP_PORT'
  const hint = which === 'MQTT_PORT' ? ', or MQTT_URL to use the broker already there' : ''
  log.fatal(`port ${err.port} is already in use (${which}); set ${which} to a free port or 0${hint}`)
  await gateway.close().catch(() => {})
  process.exit(1)
})
const base = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${httpPort}`
log.info({ api: `${base}/api/v1`, docs: `${base}/docs`, mqtt: mqttPort === null ? config.mqtt.url : `mqtt://${config.http.host}:${mqttPort}` }, 'listening')
log.info({ httpPort, mqttPort }, 'ready')

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    log.info({ signal }, 'shutting down')
    gateway.close().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  })
}
