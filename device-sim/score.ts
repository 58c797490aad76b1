import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatDuration } from './duration.js'
import { createGatewayApi } from './gateway-api.js'
import type { GroundTruth } from './plan-fleet.js'
import { firstPerProblem, scoreFaults, type Score, type TicketLike } from './score-faults.js'

const USAGE = `usage: npm run score -- --ground-truth FILE [--url URL --token T | --tickets FILE | --detections FILE] [--json]

Scores the tickets a gateway opened against the faults a simulator run injected (sim --ground-truth):
per fault whether and how early a ticket came, then precision, recall and median lead time.
  --url, --token   read tickets from the gateway API (token also from PRECALL_TOKEN)
  --tickets FILE   a JSON array of tickets (GET /api/v1/tickets), instead of the API
  --detections F   JSON lines from npm run replay; the first detection per device and problem counts
  --json           print the score as JSON`

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'ground-truth': { type: 'string' }, url: { type: 'string' }, token: { type: 'string' },
      tickets: { type: 'string' }, detections: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || !values['ground-truth']) {
    process.stderr.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const truth = JSON.parse(readFileSync(values['ground-truth'], 'utf8')) as GroundTruth
  let tickets: TicketLike[]
  const rejections = new Map<string, number>()
  if (values.tickets) {
    const json = JSON.parse(readFileSync(values.tickets, 'utf8'))
    tickets = Array.isArray(json) ? json : json.tickets
  } else if (values.detections) {
    const lines = readFileSync(values.detections, 'utf8').split('\n').filter((l) => l.startsWith('{"ruleId"'))
    tickets = firstPerProblem(lines.map((l) => JSON.parse(l) as TicketLike))
  } else {
    const token = values.token ?? process.env.PRECALL_TOKEN
    if (!token) throw new Error('give --tickets, --detections, or --url with --token (or PRECALL_TOKEN)')
    const api = createGatewayApi({ url: values.url ?? process.env.PRECALL_URL ?? 'http://127.0.0.1:8080', token })
    tickets = await api.listTickets()
    for (const f of truth.faults.filter((f) => f.kind === 'garbage')) rejections.set(f.deviceId, await api.countRejections(f.deviceId))
  }
  const score = scoreFaults(truth, tickets)
  process.stdout.write(values.json ? `${JSON.stringify(score, null, 2)}\n` : formatScore(score, rejections))
  return 0
}

function formatScore(score: Score, rejections: Map<string, number>): string {
  const when = (t: number | string | null | undefined) => (t === null || t === undefined ? '—' : new Date(t).toISOString().slice(5, 16).replace('T', ' '))
  const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(0)} %`)
  const rows = score.faults.map((f) => [
    f.deviceId, f.kind, when(f.startAt), when(f.failureAt), when(f.detectedAt),
    f.leadMs === undefined ? '' : formatDuration(f.leadMs), f.verdict,
    f.kind === 'garbage' && rejections.has(f.deviceId) ? `${rejections.get(f.deviceId)} message(s) refused` : f.ruleId ?? (f.expectTicket ? '' : 'no ticket expected'),
  ])
  const header = ['device', 'fault', 'started', 'noticed', 'detected', 'lead', 'verdict', 'rule']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  const out = [line(header), ...rows.map(line), '']
  out.push(`precision ${pct(score.precision)} (${score.matchedTickets} of ${score.tickets} ticket(s) match a fault)`)
  const expected = score.faults.filter((f) => f.expectTicket).length
  out.push(`recall ${pct(score.recall)} of ${expected} fault(s); before the customer noticed: ${pct(score.earlyRecall)}`)
  out.push(`median lead time ${Number.isNaN(score.medianLeadMs) ? 'n/a' : formatDuration(score.medianLeadMs)}`)
  if (score.falseAlarms.length > 0) {
    out.push('false alarms:')
    for (const t of score.falseAlarms) out.push(`  ${t.deviceId} ${t.problem} detected ${when(t.detectedAt)}${t.ruleId ? ` by ${t.ruleId}` : ''}`)
  }
  return `${out.join('\n')}\n`
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`score: ${err.message}\n`)
  process.exit(1)
})
