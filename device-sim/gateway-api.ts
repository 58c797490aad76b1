/**
 * The simulator's client for the gateway's HTTP API. It speaks only the public contract
 * (README "HTTP API and roles"), like any CRM or ops tool would: no imports from gateway/.
 */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string, readonly body: unknown) {
    super(message)
  }
}

export type Ticket = {
  id: string
  deviceId: string
  customerId: string | null
  problem: string
  type: string
  title: string
  status: string
  severity: string
  openedAt: string
  detectedAt: string
  lastDetectedAt?: string
  occurrences?: number
  ruleId?: string
  evidence?: Record<string, unknown>
  predictedFailureAt?: string | null
}

export type GatewayApi = ReturnType<typeof createGatewayApi>

export function createGatewayApi(opts: { url: string; token: string }) {
  const base = `${opts.url.replace(/\/+$/, '')}/api/v1`

  async function request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${opts.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    } catch (err) {
      throw new Error(`cannot reach the gateway at ${opts.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`)
    }
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = text ? JSON.parse(text) : undefined } catch { /* not JSON: keep the text */ }
    return { status: res.status, body: parsed as T }
  }

  /** Like `request`, but anything outside `ok` statuses is an ApiError naming the call. */
  async function call<T = any>(method: string, path: string, body?: unknown, ok: number[] = [200, 201, 204]): Promise<{ status: number; body: T }> {
    const res = await request<T>(method, path, body)
    if (!ok.includes(res.status)) {
      const b = res.body as { code?: string; message?: string } | undefined
      const hint = res.status === 401 ? ' (check --token / PRECALL_TOKEN)' : ''
      throw new ApiError(res.status, b?.code, `${method} ${path}: HTTP ${res.status} ${b?.code ?? ''} ${b?.message ?? JSON.stringify(res.body)}${hint}`.trim(), res.body)
    }
    return res
  }

  return {
    url: opts.url,
    request,
    call,
    /** Registers a device, or issues a fresh secret when it already exists (409): how a run reuses its fleet. */
    async registerDevice(device: { id: string; typeId: string; customerId?: string; model?: string; serial?: string }) {
      const created = await call<{ id: string; secret: string }>('POST', '/devices', device, [201, 409])
      if (created.status === 201) return { id: device.id, secret: created.body.secret, reused: false }
      const rotated = await call<{ id: string; secret: string; device: { statusAt?: string | null } }>('POST', `/devices/${encodeURIComponent(device.id)}/secret`, {})
      return { id: device.id, secret: rotated.body.secret, reused: true, statusAt: rotated.body.device?.statusAt ?? null }
    },
    async ensureCustomer(customer: Record<string, unknown>) {
      await call('POST', '/customers', customer, [201, 409])
    },
    /** Every ticket, newest first, paged through `before`. */
    async listTickets(filter: { deviceId?: string; status?: string } = {}): Promise<Ticket[]> {
      const out: Ticket[] = []
      let before: string | undefined
      for (;;) {
        const q = new URLSearchParams({ limit: '500', ...filter, ...(before ? { before } : {}) })
        const page = (await call<Ticket[]>('GET', `/tickets?${q}`)).body
        out.push(...page)
        if (page.length < 500) return out
        before = page[page.length - 1].id
      }
    },
    async countRejections(deviceId: string): Promise<number> {
      const res = await request<unknown[]>('GET', `/rejections?deviceId=${encodeURIComponent(deviceId)}&limit=500`)
      return res.status === 200 && Array.isArray(res.body) ? res.body.length : NaN
    },
  }
}
