import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

export type CrmEvent = { webhookId: string; type: string; ticket: Record<string, any>; verified: boolean; error?: string }

/**
 * A stand-in CRM: an HTTP endpoint that verifies every delivery's Standard Webhooks signature
 * against the subscription's secret (on the raw body, as the spec requires), answers 204 when it
 * holds and 400 when it does not, and de-duplicates on `webhook-id` as a real receiver must.
 */
export async function startCrmReceiver(onEvent: (e: CrmEvent) => void) {
  let verifier: Webhook | undefined
  const seen = new Set<string>()
  const events: CrmEvent[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const webhookId = String(req.headers['webhook-id'] ?? '')
      try {
        if (!verifier) throw new Error('no signing secret yet')
        const event = verifier.verify(body, req.headers as Record<string, string>) as { type: string; data: { ticket: Record<string, any> } }
        res.writeHead(204).end()
        if (seen.has(webhookId)) return
        seen.add(webhookId)
        const e = { webhookId, type: event.type, ticket: event.data.ticket, verified: true }
        events.push(e)
        onEvent(e)
      } catch (err) {
        res.writeHead(400).end()
        const e = { webhookId, type: 'unverified', ticket: {}, verified: false, error: (err as Error).message }
        events.push(e)
        onEvent(e)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/precall`,
    events,
    /** The `whsec_…` secret returned when the subscription was created. */
    setSecret(secret: string) {
      verifier = new Webhook(secret)
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
