import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One scripted answer: a status (with headers and body), or `hang` to never answer at all. */
export type Step = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang'
export type Received = { headers: IncomingHttpHeaders; body: string; path: string }

/**
 * A real HTTP receiver on 127.0.0.1 that answers request n with `script[n]`, then 200 once the
 * script runs out, and remembers everything it was sent.
 */
export async function startReceiver(script: Step[] = []) {
  const received: Received[] = []
  let inFlight = 0
  let maxInFlight = 0
  const server: Server = createServer((req, res) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight)
    res.on('close', () => inFlight--)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const step = script[received.length] ?? { status: 200 }
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '/' })
      if (step === 'hang') return
      setTimeout(() => res.writeHead(step.status, step.headers).end(step.body ?? ''), step.delayMs ?? 0)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received,
    /** The most requests it has held unanswered at once. */
    get maxInFlight() {
      return maxInFlight
    },
    /** Replaces what is left of the script. */
    script(next: Step[]) {
      script = [...Array(received.length).fill({ status: 200 }), ...next]
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>
