import { pino } from 'pino'
import type { Database } from '../../gateway/db/database.js'
import { createHttpServer } from '../../gateway/http/http-server.js'
import { notifyRoutes } from '../../gateway/http/routes/notify-routes.js'
import { createTokenStore } from '../../gateway/http/token-store.js'
import { createMetrics } from '../../gateway/metrics.js'
import type { Notifier } from '../../gateway/notify/notifier.js'
import { TEST_ADMIN_TOKEN } from '../support/gateway.js'

/** The gateway's own HTTP server (auth, error handler) with only the notification routes, for tests that run before the full wiring. */
export async function startNotifyApi(database: Database, notifier: Notifier, now: () => number) {
  const tokens = createTokenStore(database)
  await tokens.ensureAdminToken(TEST_ADMIN_TOKEN)
  const http = await createHttpServer({ log: pino({ level: 'silent' }), metrics: createMetrics(), tokens })
  await http.register(notifyRoutes, { prefix: '/api/v1', notifier, database, now })
  await http.ready()
  return {
    http,
    async api<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }): Promise<{ status: number; body: T; text: string }> {
      const res = await http.inject({
        method: method as 'GET', url: `/api/v1${path}`, headers,
        ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }),
      })
      let parsed: unknown
      try { parsed = res.body ? res.json() : undefined } catch { parsed = undefined }
      return { status: res.statusCode, body: parsed as T, text: res.body }
    },
    close: () => http.close(),
  }
}
