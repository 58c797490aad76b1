import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export type ReceivedMail = { to: string[]; messageId: string; subject: string; text: string; headers: Record<string, string>; raw: string }

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it accepts. `reject` makes it answer
 * RCPT TO for an address with a permanent 550, as a mailbox that does not exist would.
 */
export async function startSmtpSink() {
  const received: ReceivedMail[] = []
  const rejected = new Set<string>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address)) return callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }))
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        received.push(parseMail(Buffer.concat(chunks).toString('utf8'), session.envelope.rcptTo.map((r) => r.address)))
        callback()
      })
    },
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  const { port } = server.server.address() as AddressInfo
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    reject(address: string) { rejected.add(address) },
    to(address: string) { return received.filter((m) => m.to.includes(address)) },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type SmtpSink = Awaited<ReturnType<typeof startSmtpSink>>

// Enough MIME for the single-part text/plain mails nodemailer writes: folded headers, RFC 2047
// encoded words, and a base64 or quoted-printable body.
function parseMail(raw: string, to: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n')
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ')
  const headers: Record<string, string> = {}
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  const body = raw.slice(split + 4)
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase()
  const text = cte === 'base64' ? Buffer.from(body, 'base64').toString('utf8')
    : cte === 'quoted-printable' ? decodeQuotedPrintable(body.replace(/=\r\n/g, ''))
    : body
  return { to, messageId: headers['message-id'] ?? '', subject: decodeWords(headers.subject ?? ''), text: text.replace(/\r\n$/, ''), headers, raw }
}

function decodeWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset, enc: string, text: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')))
}

function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(...Buffer.from(text[i], 'utf8'))
    }
  }
  return Buffer.from(bytes).toString('utf8')
}
