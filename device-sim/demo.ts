import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createClimate } from './climate.js'
import { startCrmReceiver } from './demo/crm-receiver.js'
import { demoFleet } from './demo/demo-fleet.js'
import { createNarration } from './demo/narration.js'
import { startGatewayProcess, type GatewayProcess } from './demo/start-gateway.js'
import { createStory } from './demo/story.js'
import { createGatewayApi } from './gateway-api.js'
import { loadCatalogue } from './load-catalogue.js'
import { planFleet } from './plan-fleet.js'
import { readCatalogue } from './read-catalogue.js'
import { registerFleet } from './register-fleet.js'
import { createFleetStats, runFleet } from './run-fleet.js'

// `npm run demo`: a gateway on its embedded defaults, the default catalogue, a CRM that verifies
// signatures, and a small fleet whose faults develop at high speed — told as a story.
const { values } = parseArgs({ options: { short: { type: 'boolean' } } })
const short = values.short ?? false
const story = createStory()
const token = `demo-${randomBytes(12).toString('hex')}`
let gateway: GatewayProcess | undefined
let crm: Awaited<ReturnType<typeof startCrmReceiver>> | undefined

async function main(): Promise<number> {
  story.say('precall demo — appliances report over MQTT; precall spots faults, opens tickets and tells the CRM.\n')
  // The story replays a summer week (air conditioners run): its readings are older than the default
  // 30-day retention window, which the gateway refuses (`past_retention`), so this one keeps ten years.
  gateway = await startGatewayProcess({ ADMIN_TOKEN: token, WEBHOOK_ALLOW_PRIVATE: 'true', DISPATCH_POLL_MS: '200', LOG_LEVEL: 'info', READINGS_RETENTION_DAYS: '3650' })
  story.say(`▶ gateway running (pid ${gateway.pid}): API ${gateway.url}/api/v1, MQTT ${gateway.mqttUrl}, embedded PostgreSQL in memory`)
  const api = createGatewayApi({ url: gateway.url, token })
  const catalogue = readCatalogue()
  const report = await loadCatalogue(api, { catalogue })
  const refused = report.rules.filter((r) => r.action === 'refused').map((r) => r.id)
  story.say(`▶ loaded the default catalogue: ${report.deviceTypes.length} appliance types, ${report.rules.length - refused.length} rules${refused.length ? ` (${refused.length} use condition kinds this gateway does not speak yet: ${refused.join(', ')})` : ''}`)

  let narration: ReturnType<typeof createNarration> | undefined
  crm = await startCrmReceiver((e) => narration?.crmEvent(e))
  const hook = await api.call<{ id: string; secret: string }>('POST', '/webhooks', { url: crm.url, events: ['*'], description: 'demo CRM' })
  crm.setSecret(hook.body.secret)
  story.say(`▶ a CRM at ${crm.url} subscribed to ticket events; it verifies every signature`)

  const { speed, ...fleetOptions } = demoFleet(short)
  const plan = planFleet(fleetOptions)
  const climate = createClimate()
  const reg = await registerFleet(api, plan, { catalogue, utcOffsetHours: climate.utcOffsetHours })
  story.say(`▶ ${plan.devices.length} appliances in ${plan.devices.length} households connect, each with its own MQTT credentials; one simulated day takes ${(86_400_000 / speed / 1000).toFixed(1)} s\n`)

  const stats = createFleetStats(plan)
  narration = createNarration({ api, story, plan, stats })
  const narrating = narration.run()
  try {
    await runFleet({ plan, catalogue, climate, speed, stats, mqtt: { url: gateway.mqttUrl, secrets: reg.secrets, qos: 1 } })
    // Let the last detections and deliveries land before the summary.
    const opened = () => crm!.events.filter((e) => e.type === 'ticket.opened').length
    for (let i = 0; i < 40 && (opened() < narration.tickets.size || narration.tickets.size === 0); i++) await sleep(250)
  } finally {
    narration.stop()
    await narrating
  }

  const verified = crm.events.filter((e) => e.verified).length
  const bad = crm.events.length - verified
  const appliances = new Set([...narration.tickets.values()].map((t) => t.deviceId)).size
  story.say(`\n■ ${narration.tickets.size} ticket(s) opened for ${appliances} appliance(s); the CRM received ${verified} verified webhook(s)${bad ? `, refused ${bad}` : ''}${
    narration.notificationsAvailable ? `; ${narration.notifications} customer message(s)` : '; customer messages are not part of this gateway build'}.`)
  return narration.tickets.size > 0 && verified > 0 && bad === 0 ? 0 : 1
}

async function shutdown() {
  await crm?.close().catch(() => {})
  await gateway?.stop()
}

process.once('SIGINT', () => { void shutdown().then(() => process.exit(130)) })
main().then(async (code) => {
  await shutdown()
  process.exit(code)
}, async (err: Error) => {
  process.stderr.write(`demo: ${err.message}\n`)
  await shutdown()
  process.exit(1)
})
