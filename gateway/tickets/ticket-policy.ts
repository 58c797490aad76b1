import { z } from 'zod'

export const SEVERITY_PRIORITY = { critical: 1, major: 2, minor: 3, info: 4 } as const
export type Severity = keyof typeof SEVERITY_PRIORITY

const tagRule = z.strictObject({
  /** Levels of priority gained (1 = one level more urgent). */
  priorityBoost: z.number().int().min(0).max(3).optional(),
  /** Multiplies the SLA duration: 0.6 = due in 60 % of the usual time. */
  slaFactor: z.number().gt(0).max(1).optional(),
  /** The contact channel agents should use first (shown in agent context; used by notifications). */
  preferredChannel: z.string().min(1).optional(),
})
export const tagPolicySchema = z.record(z.string().min(1), tagRule)
export type TagPolicy = z.output<typeof tagPolicySchema>

export const DEFAULT_TAG_POLICY: TagPolicy = {
  vip: { priorityBoost: 1 },
  elderly: { priorityBoost: 1, preferredChannel: 'phone' },
  'warranty:extended': { slaFactor: 0.6 },
}

/**
 * Priority and SLA of a ticket, from severity, the customer's tags and whether it repeats an
 * earlier ticket (a second call is the failure the customer notices most: one level more urgent).
 */
export function ticketTerms(input: {
  severity: Severity
  type: string
  customerTags: readonly string[]
  repeat: boolean
  slaMs: Record<string, number>
  tagPolicy: TagPolicy
}) {
  let boost = input.repeat ? 1 : 0
  let factor = 1
  for (const tag of input.customerTags) {
    const rule = input.tagPolicy[tag]
    if (!rule) continue
    boost += rule.priorityBoost ?? 0
    factor = Math.min(factor, rule.slaFactor ?? 1)
  }
  return {
    priority: Math.max(1, SEVERITY_PRIORITY[input.severity] - boost),
    slaMs: Math.round((input.slaMs[input.type] ?? input.slaMs.service) * factor),
  }
}

export function preferredChannel(customerTags: readonly string[], tagPolicy: TagPolicy): string | undefined {
  for (const tag of customerTags) if (tagPolicy[tag]?.preferredChannel) return tagPolicy[tag].preferredChannel
  return undefined
}
