import nodemailer from 'nodemailer'
import type { ChannelAdapter, OutgoingMessage, SendResult } from './channel.js'

/**
 * E-mail over SMTP with nodemailer. Host, port, TLS (`smtps://`) and credentials come from the URL;
 * nodemailer options can ride along as query parameters (`?ignoreTLS=true`). The Message-ID is
 * derived from our message id, so a resend after a crash is recognisably the same mail.
 */
export function createEmailChannel(opts: { smtpUrl: string; from: string; timeoutMs: number; hostname?: string }): ChannelAdapter {
  const url = new URL(opts.smtpUrl)
  for (const key of ['connectionTimeout', 'greetingTimeout', 'socketTimeout']) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, String(opts.timeoutMs))
  }
  const transport = nodemailer.createTransport(url.toString())
  const domain = opts.hostname ?? 'precall'

  return {
    async send(m: OutgoingMessage): Promise<SendResult> {
      try {
        const info = await transport.sendMail({
          from: opts.from,
          to: m.address,
          subject: m.subject,
          text: m.body,
          messageId: `<${m.messageId}@${domain}>`,
          headers: {
            'X-Precall-Message-Id': m.messageId,
            ...(m.ticketId ? { 'X-Precall-Ticket': m.ticketId } : {}),
            ...(m.urgent ? { Importance: 'high', 'X-Priority': '1' } : {}),
            // RFC 8058 one-click unsubscribe: mail clients show the button and POST to the link.
            ...(m.unsubscribeUrl ? { 'List-Unsubscribe': `<${m.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {}),
          },
        })
        return { outcome: 'sent', providerMessageId: info.messageId ?? null }
      } catch (err) {
        return classify(err as { code?: string; responseCode?: number; message?: string })
      }
    },
    async close() {
      transport.close()
    },
  }
}

// RFC 5321 §4.2.1: 5yz is a permanent failure (no such mailbox, refused); 4yz and broken connections may pass later.
function classify(err: { code?: string; responseCode?: number; message?: string }): SendResult {
  const error = [err.responseCode, err.code, err.message].filter(Boolean).join(' ')
  if ((err.responseCode && err.responseCode >= 500) || (err.code === 'EENVELOPE' && !err.responseCode)) {
    return { outcome: 'give_up', error, statusCode: err.responseCode }
  }
  return { outcome: 'retry', error, statusCode: err.responseCode }
}
