import { z } from 'zod'
import { DEFAULT_POOL_SIZE } from '../db/database.js'
import { DEFAULT_MAX_PENDING, DEFAULT_READ_BUDGET_MS } from '../ingest/admission.js'
import { DEFAULT_NOTIFY_RETRY_SCHEDULE_MS, providersEnv, quietHoursEnv, type NotifyConfig } from '../notify/notify-config.js'
import { calendarSchema } from '../tickets/sla-clock.js'
import { DEFAULT_TAG_POLICY, tagPolicySchema } from '../tickets/ticket-policy.js'

const port = z.coerce.number().int().min(0).max(65535)
const positiveMs = z.coerce.number().int().positive()
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')

// Standard Webhooks / Svix-style schedule, stretched to span about three days (sum ≈ 71.6 h).
export const DEFAULT_RETRY_SCHEDULE_MS = [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 72e6] as const

const msList = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'expected comma-separated milliseconds, e.g. "5000,300000,1800000"')
  .transform((s) => s.split(',').map(Number))

const envSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: port.default(8080),
  MQTT_PORT: port.default(1883),
  MQTT_URL: z.url({ protocol: /^(mqtts?|wss?|tcp)$/, error: 'expected an mqtt://, mqtts://, ws:// or wss:// URL' }).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres://user@host:port/db URL' }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(100).default(DEFAULT_POOL_SIZE),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'expected smtp://user:pass@host:port' }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MQTT_BROKER_THREAD: bool.default(false),
  MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(256).max(268_435_455).default(65_536),
  MQTT_RECEIVE_MAXIMUM: z.coerce.number().int().min(1).max(65_535).default(1000),
  MQTT_CLIENT_ID: z.string().regex(/^\S{1,128}$/, 'expected 1-128 characters without spaces').optional(),
  MQTT_SESSION_EXPIRY_S: z.coerce.number().int().min(0).max(4_294_967_295).optional(),
  INGEST_MAX_FUTURE_MS: positiveMs.default(300_000),
  READINGS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  ROLLUPS_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(730),
  RETENTION_POLL_MS: positiveMs.default(60_000),
  INGEST_BATCH_MAX: z.coerce.number().int().min(1).max(5000).default(1000),
  INGEST_LINGER_MS: z.coerce.number().int().min(0).max(100).default(5),
  INGEST_MAX_PENDING: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_PENDING),
  INGEST_READ_BUDGET_MS: z.coerce.number().min(0).max(1000).default(DEFAULT_READ_BUDGET_MS),
  WEBHOOK_TIMEOUT_MS: positiveMs.default(15_000),
  WEBHOOK_RETRY_SCHEDULE_MS: msList.optional(),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  DISPATCH_LEASE_MS: positiveMs.default(30_000),
  DISPATCH_POLL_MS: positiveMs.default(1_000),
  SLA_SERVICE_MS: positiveMs.default(5 * 86_400_000),
  SLA_COMPLAINT_MS: positiveMs.default(3 * 86_400_000),
  SLA_PREDICTED_FAILURE_MS: positiveMs.default(5 * 86_400_000),
  SLA_CALENDAR: calendarSchema.prefault('24x7'),
  SLA_WARN_LEVELS: z.string()
    .regex(/^(0?\.\d+|1(\.0+)?)(,(0?\.\d+|1(\.0+)?))*$/, 'expected increasing fractions of the SLA, e.g. "0.5,0.8,1"')
    .transform((s) => s.split(',').map(Number))
    .refine((l) => l.every((v, i) => v > 0 && (i === 0 || v > l[i - 1])), 'fractions must be above 0 and increasing')
    .default([0.5, 0.8, 1]),
  REPEAT_WINDOW_MS: positiveMs.default(30 * 86_400_000),
  TICKET_AUTOCLOSE_MS: positiveMs.default(7 * 86_400_000),
  TAG_POLICY: z.string().transform((s, ctx) => {
    try { return JSON.parse(s) as unknown } catch { ctx.addIssue({ code: 'custom', message: 'expected JSON like {"vip":{"priorityBoost":1}}' }); return z.NEVER }
  }).pipe(tagPolicySchema).optional(),
  SCHEDULER_POLL_MS: positiveMs.default(5_000),
  RULES_LATENESS_MS: z.coerce.number().int().min(0).max(3_600_000).default(0),
  RULES_CLOCK_SLACK_MS: z.coerce.number().int().min(0).default(30_000),
  RULES_CLOCK_TICK_MS: positiveMs.default(1_000),
  NOTIFY_QUIET_HOURS: quietHoursEnv.prefault('21:00-08:00'),
  NOTIFY_DAILY_CAP: z.coerce.number().int().min(1).max(50).default(3),
  NOTIFY_RETRY_SCHEDULE_MS: msList.optional(),
  NOTIFY_LEASE_MS: positiveMs.default(30_000),
  NOTIFY_POLL_MS: positiveMs.default(1_000),
  NOTIFY_TIMEOUT_MS: positiveMs.default(10_000),
  NOTIFY_EMAIL_FROM: z.string().min(3).default('precall <noreply@precall.invalid>'),
  NOTIFY_PROVIDERS: providersEnv.optional(),
  NOTIFY_DEVICE_NOTICE: bool.default(false),
  NOTIFY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
})

export class ConfigError extends Error {
  readonly code = 'PRECALL_ERR_CONFIG'
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`)
  }
}

export function loadConfig(env: Record<string, string | undefined>) {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = envSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(present[String(i.path[0])])})`))
  }
  const e = parsed.data
  return deepFreeze({
    http: { host: e.HOST, port: e.HTTP_PORT },
    mqtt: {
      port: e.MQTT_PORT, url: e.MQTT_URL, maxPacketBytes: e.MQTT_MAX_PACKET_BYTES, brokerThread: e.MQTT_BROKER_THREAD,
      // The subscriber's session outlives a restart only under a client id the operator keeps; a
      // generated one lasts as long as the process, plus what a reconnect needs.
      receiveMaximum: e.MQTT_RECEIVE_MAXIMUM, clientId: e.MQTT_CLIENT_ID,
      sessionExpirySeconds: e.MQTT_SESSION_EXPIRY_S ?? (e.MQTT_CLIENT_ID ? 86_400 : 60),
    },
    db: { url: e.DATABASE_URL, dataDir: e.DATA_DIR, poolMax: e.DATABASE_POOL_MAX },
    auth: { adminToken: e.ADMIN_TOKEN },
    ingest: { maxFutureMs: e.INGEST_MAX_FUTURE_MS, maxAgeMs: e.READINGS_RETENTION_DAYS * 86_400_000, batchMax: e.INGEST_BATCH_MAX, lingerMs: e.INGEST_LINGER_MS, maxPending: e.INGEST_MAX_PENDING, readBudgetMs: e.INGEST_READ_BUDGET_MS },
    retention: { readingsMs: e.READINGS_RETENTION_DAYS * 86_400_000, rollupsMs: e.ROLLUPS_RETENTION_DAYS * 86_400_000, pollMs: e.RETENTION_POLL_MS },
    outbox: {
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE_MS ?? [...DEFAULT_RETRY_SCHEDULE_MS],
      allowPrivateAddresses: e.WEBHOOK_ALLOW_PRIVATE,
      leaseMs: e.DISPATCH_LEASE_MS,
      pollMs: e.DISPATCH_POLL_MS,
    },
    tickets: {
      slaMs: { service: e.SLA_SERVICE_MS, predicted_failure: e.SLA_PREDICTED_FAILURE_MS, complaint: e.SLA_COMPLAINT_MS },
      calendar: e.SLA_CALENDAR,
      warnLevels: e.SLA_WARN_LEVELS,
      repeatWindowMs: e.REPEAT_WINDOW_MS,
      autoCloseMs: e.TICKET_AUTOCLOSE_MS,
      tagPolicy: e.TAG_POLICY ?? DEFAULT_TAG_POLICY,
      schedulerPollMs: e.SCHEDULER_POLL_MS,
    },
    rules: { latenessMs: e.RULES_LATENESS_MS, clockSlackMs: e.RULES_CLOCK_SLACK_MS, clockTickMs: e.RULES_CLOCK_TICK_MS },
    notify: {
      quietHours: e.NOTIFY_QUIET_HOURS, dailyCap: e.NOTIFY_DAILY_CAP,
      retryScheduleMs: e.NOTIFY_RETRY_SCHEDULE_MS ?? [...DEFAULT_NOTIFY_RETRY_SCHEDULE_MS],
      leaseMs: e.NOTIFY_LEASE_MS, pollMs: e.NOTIFY_POLL_MS, timeoutMs: e.NOTIFY_TIMEOUT_MS,
      smtpUrl: e.SMTP_URL, emailFrom: e.NOTIFY_EMAIL_FROM, providers: e.NOTIFY_PROVIDERS ?? {},
      allowPrivateAddresses: e.WEBHOOK_ALLOW_PRIVATE, deviceNotice: e.NOTIFY_DEVICE_NOTICE, publicUrl: e.NOTIFY_PUBLIC_URL,
      tagPolicy: e.TAG_POLICY ?? DEFAULT_TAG_POLICY,
    } satisfies NotifyConfig,
    smtpUrl: e.SMTP_URL,
    logLevel: e.LOG_LEVEL,
  })
}

export type Config = ReturnType<typeof loadConfig>

function deepFreeze<T>(o: T): T {
  for (const v of Object.values(o as object)) if (v && typeof v === 'object') deepFreeze(v)
  return Object.freeze(o)
}
