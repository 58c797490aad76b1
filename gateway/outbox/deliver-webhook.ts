import { request, type Dispatcher } from 'undici'
import { ERRORS } from '../errors.js'
import { parseRetryAfter } from './retry-schedule.js'

/** How one attempt ended. Expected failures are values: the dispatcher decides what each one means. */
export type DeliveryResult =
  | { outcome: 'delivered'; statusCode: number; body?: string }
  | { outcome: 'retry'; statusCode?: number; retryAfterMs?: number; error: string }
  | { outcome: 'gone'; statusCode: 410 }
  | { outcome: 'give_up'; statusCode?: number; error: string }

// Enough of a receiver's answer to tell an operator why it refused; the rest is never read.
const MAX_BODY_BYTES = 1024
const MAX_ERROR_BODY_CHARS = 200

/**
 * POSTs one webhook. Redirects are not followed (Standard Webhooks: a 3xx is a failed attempt — a
 * redirect could also lead past the private-address check), and `timeoutMs` bounds the whole
 * exchange, headers and body, so a receiver that trickles bytes cannot hold a worker.
 */
export async function deliverWebhook(opts: {
  url: string
  headers: Record<string, string>
  body: string
  timeoutMs: number
  dispatcher: Dispatcher
  now?: () => number
  /** Return the start of a 2xx body: an SMS or push provider answers with its message id there. */
  returnBody?: boolean
}): Promise<DeliveryResult> {
  const signal = AbortSignal.timeout(opts.timeoutMs)
  try {
    // undici 7's `request` follows no redirects unless a redirect interceptor is composed in.
    const res = await request(opts.url, {
      method: 'POST',
      headers: opts.headers,
      body: opts.body,
      dispatcher: opts.dispatcher,
      signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    })
    const snippet = await readSome(res.body)
    const status = res.statusCode
    if (status >= 200 && status < 300) return { outcome: 'delivered', statusCode: status, ...(opts.returnBody && { body: snippet }) }
    if (status === 410) return { outcome: 'gone', statusCode: 410 }
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], (opts.now ?? Date.now)())
    const error = status >= 300 && status < 400
      ? `HTTP ${status}: redirects are not followed`
      : `HTTP ${status}${snippet ? `: ${snippet.slice(0, MAX_ERROR_BODY_CHARS)}` : ''}`
    return { outcome: 'retry', statusCode: status, error, ...(retryAfterMs !== undefined && { retryAfterMs }) }
  } catch (err) {
    if ((err as { code?: string }).code === ERRORS.UNSAFE_URL.code) return { outcome: 'give_up', error: (err as Error).message }
    if (signal.aborted || isTimeout(err)) return { outcome: 'retry', error: `timed out after ${opts.timeoutMs} ms` }
    return { outcome: 'retry', error: describe(err) }
  }
}

async function readSome(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer)
      size += (chunk as Buffer).length
      if (size >= MAX_BODY_BYTES) break
    }
  } catch {
    // The status is what counts; a body cut short says nothing more about the outcome.
  } finally {
    body.destroy()
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8').trim()
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string; name?: string }).code
  const name = (err as { name?: string }).name
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || name === 'TimeoutError'
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  const code = e.code ?? e.cause?.code
  const message = e.message || e.cause?.message || String(err)
  return code && !message.includes(code) ? `${code}: ${message}` : message
}
