import { writeFileSync } from 'node:fs'
import { parseCliOptions, USAGE, type CliOptions } from './cli-options.js'
import { formatDuration } from './duration.js'
import { createGatewayApi } from './gateway-api.js'
import { formatCatalogueReport, loadCatalogue } from './load-catalogue.js'
import { runLoadCommand } from './load-command.js'
import { ScenarioError } from './load-scenario.js'
import { planFleet } from './plan-fleet.js'
import { startProgressLine } from './progress-line.js'
import { readCatalogue } from './read-catalogue.js'
import { createRecorder } from './recorder.js'
import { registerFleet } from './register-fleet.js'
import { createFleetStats, runFleet } from './run-fleet.js'

const log = (line: string) => process.stderr.write(`${line}\n`)

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'load') return runLoadCommand(argv.slice(1), process.env)
  const opts = await parseCliOptions(argv, process.env)
  if (opts.command === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const catalogue = readCatalogue(opts.catalogueDir)
  const needsGateway = opts.command === 'catalogue' || !opts.dryRun
  if (needsGateway && !opts.token) throw new Error('an admin or ops token is required: --token T or PRECALL_TOKEN')
  const api = createGatewayApi({ url: opts.url, token: opts.token ?? '' })

  if (opts.command === 'catalogue' || opts.loadCatalogue) {
    const report = await loadCatalogue(api, { catalogue, overwrite: opts.overwrite })
    log(`catalogue ${catalogue.dir}\n${formatCatalogueReport(report)}`)
    if (opts.command === 'catalogue') return 0
  }

  const plan = planFleet(opts.fleet)
  if (opts.groundTruth) writeFileSync(opts.groundTruth, `${JSON.stringify(plan.groundTruth, null, 2)}\n`)
  log(describeRun(opts, plan.devices.length, plan.groundTruth.faults.length))

  let secrets: Map<string, string> | undefined
  if (!opts.dryRun) {
    const reg = await registerFleet(api, plan, { catalogue, utcOffsetHours: opts.utcOffsetHours })
    secrets = reg.secrets
    log(`registered ${reg.created} new device(s), reused ${reg.reused}`)
    if (reg.stale.length > 0) {
      log(`warning: ${reg.stale.length} reused device(s) (e.g. ${reg.stale[0]}) already reported later than this run starts; the gateway stores their readings but its rules skip them as late. Use --id-prefix for a fresh fleet.`)
    }
  }

  const typeOf = new Map(plan.groundTruth.devices.map((d) => [d.id, d.deviceType]))
  const recorder = opts.record ? createRecorder(opts.record, (id) => typeOf.get(id)) : undefined
  const abort = new AbortController()
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130)
    log('\nstopping: finishing what is in flight (Ctrl-C again to quit at once)')
    abort.abort()
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  const stats = createFleetStats(plan)
  const progress = startProgressLine(stats, plan)
  const wall0 = performance.now()
  try {
    await runFleet({
      plan, catalogue, climate: opts.climate, speed: opts.dryRun ? 'max' : opts.speed, intervalMs: opts.intervalMs, endStatus: opts.endStatus, recorder, stats,
      mqtt: secrets && { url: opts.mqttUrl, secrets, qos: opts.qos, window: opts.window, connectParallel: opts.connectParallel },
      signal: abort.signal,
    })
  } finally {
    progress.stop()
    recorder?.close()
  }
  const seconds = (performance.now() - wall0) / 1000
  log([
    `done${abort.signal.aborted ? ' (interrupted)' : ''} in ${seconds.toFixed(1)} s: ${formatDuration(stats.simNow - plan.start)} of event time`,
    opts.dryRun ? `  generated ${recorder?.lines ?? 'n/a'} message(s) (dry run)` : `  ${stats.acked} acknowledged of ${stats.sent} sent (${(stats.acked / seconds).toFixed(0)}/s), ${stats.failed} failed, QoS ${opts.qos}`,
    `  faults injected: ${stats.faultsStarted} of ${stats.faultsTotal} planned`,
    stats.unexpectedCloses ? `  warning: the broker closed ${stats.unexpectedCloses} connection(s) unexpectedly; their last will carried wall-clock time` : '',
    opts.record ? `  recording: ${opts.record} (${recorder?.lines} lines)` : '',
    opts.groundTruth ? `  ground truth: ${opts.groundTruth} — score it: npm run score -- --ground-truth ${opts.groundTruth} --url ${opts.url}` : '',
  ].filter(Boolean).join('\n'))
  return stats.failed > 0 ? 1 : 0
}

function describeRun(opts: CliOptions, devices: number, faults: number): string {
  const span = formatDuration(opts.fleet.spanMs)
  const pace = opts.speed === 'max' ? 'as fast as the gateway acknowledges' : `at ${opts.speed}× (${formatDuration(opts.fleet.spanMs / opts.speed)} wall clock)`
  const from = new Date(opts.fleet.start).toISOString()
  return `${opts.scenarioName ? `scenario ${opts.scenarioName}: ` : ''}${devices} device(s), ${faults} fault(s), seed ${opts.fleet.seed}, ${span} of event time from ${from} ${pace}${opts.dryRun ? ', dry run' : ` → ${opts.mqttUrl}`}`
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
  log(`sim: ${err instanceof ScenarioError ? err.message : err.message}`)
  process.exit(err instanceof ScenarioError ? 65 : 1)
})
