import { formatDuration } from '../duration.js'
import type { FaultSpec } from '../device-stream.js'
import type { Ticket } from '../gateway-api.js'
import type { ProfileId } from '../profiles/profile.js'
import type { CrmEvent } from './crm-receiver.js'

const UTC_OFFSET_MS = 8 * 3_600_000 // the demo households live in UTC+8
const when = (ts: number) => new Date(ts + UTC_OFFSET_MS).toISOString().slice(5, 16).replace('T', ' ').replace('-', '/')

const WHAT: Record<string, (id: string, profile: ProfileId) => string> = {
  'drain-clog': (id) => `lint starts to build up in the drain pump of washer ${id}; drains get slower with every wash`,
  'compressor-wear': (id) => `the compressor of fridge ${id} starts to wear; it runs a little longer every day`,
  'refrigerant-leak': (id) => `air conditioner ${id} starts to leak refrigerant; the air it blows gets a little less cold every day`,
  'filter-clog': (id) => `the air filter of ${id} starts to clog`,
  'element-scaling': (id) => `scale starts to build on the heating element of water heater ${id}; it heats more slowly every day`,
  'sudden-failure': (id, profile) => ({
    washer: `the motor drive of washer ${id} starts tripping in the middle of a wash`,
    fridge: `the compressor start relay of fridge ${id} fails: the compressor will not start, the cabinet slowly warms`,
    'air-conditioner': `the compressor of air conditioner ${id} trips on every start`,
    'water-heater': `the heating element of water heater ${id} burns out: the tank slowly cools`,
  })[profile],
  'flapping-sensor': (id) => `a temperature sensor in ${id} works loose`,
  unplugged: (id) => `${id} is unplugged (a clean power-off, not a fault)`,
  'wifi-lost': (id) => `${id} loses its Wi-Fi`,
  garbage: (id) => `${id}'s firmware starts sending garbage`,
}

function evidence(t: Ticket): string {
  const e = (t.evidence ?? {}) as Record<string, any>
  if (e.kind === 'threshold') return `${e.metric} ${e.value} ${e.op} ${e.limit}${e.heldMs ? ` held ${formatDuration(e.heldMs)}` : ''}`
  if (e.kind === 'count') return `${e.atLeast}× ${(e.codes ?? []).join('/')} within ${formatDuration(e.withinMs ?? 0)}`
  if (e.kind === 'trend') return `${e.metric} heading for ${e.limit}, reaching it around ${typeof e.predictedFailureAt === 'number' ? when(e.predictedFailureAt) : 'soon'}`
  if (e.kind === 'absence') return `silent for ${formatDuration(e.silentMs ?? 0)}`
  return String(e.kind ?? 'rule matched')
}

/** Prints the demo as a story a newcomer can follow: what happens in the homes, what precall does. */
export function createStory(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  return {
    say: (line: string) => write(line),
    faultStarts: (f: FaultSpec, id: string, profile: ProfileId) =>
      write(`[${when(f.startAt)}] 🏠 ${WHAT[f.kind](id, profile)}.${f.failureAt ? ` The household would notice around ${when(f.failureAt)}.` : ''}`),
    ticketOpened: (t: Ticket) =>
      write(`[${when(Date.parse(t.detectedAt))}] 🔎 precall detects "${t.title}" on ${t.deviceId} (rule ${t.ruleId}: ${evidence(t)}) → opens ticket ${t.id}, ${t.severity}${t.type === 'predicted_failure' ? ', a predicted failure' : ''}.`),
    webhook: (e: CrmEvent) => write(!e.verified
      ? `           ✗ the CRM refused a delivery: ${e.error}`
      : e.type === 'ticket.updated'
        ? `           📨 the CRM receives ticket.updated for ${e.ticket.id}: detected again (occurrence ${e.ticket.occurrences}) — same problem, same ticket, no second call.`
        : `           📨 the CRM receives ${e.type} for ${e.ticket.id}; Standard Webhooks signature verified (${e.webhookId}).`),
    customerWouldNotice: (f: FaultSpec, id: string, ticket: Ticket | undefined) => {
      const lead = ticket ? f.failureAt! - Date.parse(ticket.detectedAt) : undefined
      write(`[${when(f.failureAt!)}] ☎  without precall, this is when the household of ${id} would notice and call. ${
        lead !== undefined && lead > 0 ? `precall opened the ticket ${formatDuration(lead)} earlier.` : 'precall had not caught it in time.'}`)
    },
  }
}
