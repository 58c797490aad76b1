import { z } from 'zod'

// What both hand-built baselines read from the bench: where to subscribe, where to alert, and the one rule they apply.
export const baselineEnvSchema = z.object({
  MQTT_URL: z.string().min(1),
  ALERT_URL: z.url({ protocol: /^https?$/ }),
  QOS: z.enum(['0', '1']).transform(Number).pipe(z.union([z.literal(0), z.literal(1)])),
  THRESHOLD_METRIC: z.string().min(1).default('motor_current_a'),
  THRESHOLD: z.coerce.number().default(12),
})

export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env)
  if (!parsed.success) throw new Error(`bad env: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

/** `mqtt://host:port` or bare `host:port`, both accepted so the bench can hand either baseline the same value. */
export function brokerAddress(mqttUrl: string) {
  const url = new URL(mqttUrl.includes('://') ? mqttUrl : `mqtt://${mqttUrl}`)
  return { url: `mqtt://${url.hostname}:${url.port || 1883}`, host: url.hostname, port: Number(url.port || 1883) }
}
