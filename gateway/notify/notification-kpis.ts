import { sql } from 'drizzle-orm'
import type { Database } from '../db/database.js'

type Reach = { tickets: number; reached: number; median_ms: number | null; p90_ms: number | null }

/**
 * Outreach over tickets opened in [from, to) for rules that notify the customer: how many
 * customers heard from us (a message or the digest holding it was sent), and how long after
 * detection (event time) the first message left. Plus every message of the period by status and
 * by the channel that carried it.
 */
export async function notificationKpis(database: Database, period: { from: Date; to: Date }) {
  const from = period.from.toISOString()
  const to = period.to.toISOString()
  const [reach] = await database.query<Reach>(sql`
    with t as (
      select id, detected_at from tickets
      where notify_customer and customer_id is not null and opened_at >= ${from}::timestamptz and opened_at < ${to}::timestamptz
    ), first_contact as (
      select n.ticket_id, min(coalesce(n.sent_at, d.sent_at)) as at
      from notifications n left join notifications d on d.id = n.digest_id
      where n.ticket_id in (select id from t) and (n.status in ('sent', 'delivered') or d.status in ('sent', 'delivered'))
      group by n.ticket_id
    )
    select count(*)::int as tickets, count(f.at)::int as reached,
      percentile_cont(0.5) within group (order by extract(epoch from f.at - t.detected_at) * 1000)::float8 as median_ms,
      percentile_cont(0.9) within group (order by extract(epoch from f.at - t.detected_at) * 1000)::float8 as p90_ms
    from t left join first_contact f on f.ticket_id = t.id`)
  const byStatus = await database.query<{ status: string; n: number }>(sql`
    select status, count(*)::int as n from notifications
    where created_at >= ${from}::timestamptz and created_at < ${to}::timestamptz group by status order by status`)
  const byChannel = await database.query<{ channel: string; n: number }>(sql`
    select channel, count(*)::int as n from notifications
    where created_at >= ${from}::timestamptz and created_at < ${to}::timestamptz and status in ('sent', 'delivered') group by channel order by channel`)
  return {
    period: { from, to },
    tickets: reach.tickets,
    reached: reach.reached,
    reachRate: reach.tickets ? reach.reached / reach.tickets : null,
    timeToFirstContactMs: { median: reach.median_ms, p90: reach.p90_ms },
    messages: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    sentByChannel: Object.fromEntries(byChannel.map((r) => [r.channel, r.n])),
    definitions: {
      tickets: 'Tickets opened in the period by rules with notifyCustomer, for a known customer.',
      reached: 'Of those, tickets about which a message was sent (alone or in a digest).',
      timeToFirstContactMs: 'From detectedAt (event time) to the first sent message about the ticket.',
    },
  }
}
