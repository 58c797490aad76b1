import { setTimeout as sleep } from 'node:timers/promises'
import type { GatewayApi, Ticket } from '../gateway-api.js'
import type { FleetPlan } from '../plan-fleet.js'
import type { FleetStats } from '../run-fleet.js'
import type { CrmEvent } from './crm-receiver.js'
import type { createStory } from './story.js'

type Beat = { ts: number; tell(): void }

/**
 * Keeps the story in event-time order although its sources run at different paces: fault
 * milestones come from the plan, tickets from polling the API, webhooks from the CRM. A beat is
 * told once event time has passed it and the API has been asked again since, so a detection the
 * gateway made in time is told before the moment the customer would have noticed.
 */
export function createNarration(opts: { api: GatewayApi; story: ReturnType<typeof createStory>; plan: FleetPlan; stats: FleetStats }) {
  const { api, story, plan, stats } = opts
  const beats: Beat[] = []
  const tickets = new Map<string, Ticket>()
  const told = new Set<string>()
  const webhooks: CrmEvent[] = []
  const updatesTold = new Set<string>()
  const notifications = new Set<number>()
  let notificationsAvailable = true
  let stopped = false

  for (const d of plan.devices) {
    const f = d.fault
    if (!f) continue
    beats.push({ ts: f.startAt, tell: () => story.faultStarts(f, d.id, d.profile) })
    if (f.failureAt !== null) {
      beats.push({
        ts: f.failureAt + 1, // after a detection at the very same moment
        tell: () => story.customerWouldNotice(f, d.id, [...tickets.values()]
          .filter((t) => t.deviceId === d.id && Date.parse(t.detectedAt) >= f.startAt)
          .sort((a, b) => Date.parse(a.detectedAt) - Date.parse(b.detectedAt))[0]),
      })
    }
  }

  function tellWebhooks() {
    for (const e of webhooks) {
      const id = String(e.ticket.id ?? '')
      if (told.has(`w:${e.webhookId}`) || (e.verified && !told.has(id))) continue
      if (e.type === 'ticket.updated' && updatesTold.has(id)) { told.add(`w:${e.webhookId}`); continue }
      if (e.type === 'ticket.updated') updatesTold.add(id)
      told.add(`w:${e.webhookId}`)
      story.webhook(e)
    }
  }

  function flush(upTo: number) {
    beats.sort((a, b) => a.ts - b.ts)
    while (beats.length > 0 && beats[0].ts <= upTo) beats.shift()!.tell()
    tellWebhooks()
  }

  async function pollOnce() {
    for (const t of await api.listTickets()) {
      if (tickets.has(t.id) || !plan.groundTruth.devices.some((d) => d.id === t.deviceId)) continue
      tickets.set(t.id, t)
      beats.push({ ts: Date.parse(t.detectedAt), tell: () => { told.add(t.id); story.ticketOpened(t) } })
    }
    if (!notificationsAvailable) return
    const res = await api.request<any[]>('GET', '/notifications?limit=100')
    notificationsAvailable = res.status === 200 && Array.isArray(res.body)
    for (const n of notificationsAvailable ? [...res.body].reverse() : []) {
      if (notifications.has(n.id) || n.status === 'queued' || !tickets.has(n.ticketId)) continue
      notifications.add(n.id)
      beats.push({ ts: Date.parse(tickets.get(n.ticketId)!.detectedAt) + 2, tell: () => story.say(
        `           📱 a message for the household (${n.channel ?? 'no channel'}, ${n.status}${n.reason ? `: ${n.reason}` : ''})${n.rendered?.body ? `: "${n.rendered.body}"` : ''}`) })
    }
  }

  return {
    tickets,
    webhooks,
    crmEvent: (e: CrmEvent) => { webhooks.push(e); tellWebhooks() },
    get notificationsAvailable() { return notificationsAvailable },
    get notifications() { return notifications.size },
    /** Polls and tells until `stop`; then tells whatever is left. */
    async run() {
      while (!stopped) {
        const reached = stats.simNow
        await pollOnce()
        flush(reached)
        await sleep(200)
      }
      await pollOnce()
      flush(Number.POSITIVE_INFINITY)
    },
    stop() {
      stopped = true
    },
  }
}
