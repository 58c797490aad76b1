import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { climateSchema } from './climate.js'
import { parseDuration } from './duration.js'
import { FAULT_KIND_IDS, faultAppliesTo } from './fault-kinds.js'
import { PROFILE_IDS } from './profiles/profile.js'

const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "30m", "24h", "7d" or milliseconds, got ${JSON.stringify(value)}` })
    return z.NEVER
  }
  return ms
})

/** `"5%"` or a fraction 0–1. */
export const shareSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const n = typeof value === 'number' ? value
    : /^\d+(\.\d+)?%$/.test(value) ? Number(value.slice(0, -1)) / 100
    : /^\d*\.?\d+$/.test(value) ? Number(value) : NaN
  if (!(n >= 0 && n <= 1)) {
    ctx.addIssue({ code: 'custom', message: `expected a share like "5%" or 0.05, got ${JSON.stringify(value)}` })
    return z.NEVER
  }
  return n
})

const faultSchema = z.strictObject({
  kind: z.enum(FAULT_KIND_IDS),
  device: z.string().optional().describe('a device id; otherwise the first `count` devices of `profile` without a fault'),
  profile: z.enum(PROFILE_IDS).optional(),
  count: z.number().int().min(1).optional(),
  startAfter: duration.optional().describe('offset from the start of the run; random in the first 10-40 % when absent'),
  duration: duration.optional().describe('gradual faults: fault start to failure; unplugged: how long'),
}).superRefine((f, ctx) => {
  if (f.device && (f.profile || f.count)) ctx.addIssue({ code: 'custom', message: 'give either device, or profile and count' })
  if (f.profile && !faultAppliesTo(f.kind, f.profile)) ctx.addIssue({ code: 'custom', path: ['profile'], message: `fault ${f.kind} does not apply to ${f.profile}` })
})

/** A scenario file: a fleet, its faults, and how to run it. Every field may be overridden by a CLI flag. */
export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  seed: z.number().int().optional(),
  start: z.iso.datetime({ offset: true }).optional().describe('event time of the first reading; default: now minus the span'),
  span: duration.optional().describe('simulated time the run covers'),
  speed: z.union([z.number().positive(), z.literal('max')]).optional(),
  reportEvery: duration.optional(),
  idPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "-" and "_" only (device ids are MQTT topic levels)').optional(),
  qos: z.union([z.literal(0), z.literal(1)]).optional(),
  endStatus: z.enum(['powered_off', 'none']).optional(),
  climate: climateSchema.optional(),
  fleet: z.array(z.strictObject({ profile: z.enum(PROFILE_IDS), count: z.number().int().min(1).max(100_000) })).min(1),
  faults: z.array(faultSchema).default([]),
  randomFaults: shareSchema.optional(),
})
export type Scenario = z.output<typeof scenarioSchema>

export class ScenarioError extends Error {}

/** Reads a YAML or JSON scenario and validates it, naming every problem with its path. */
export async function loadScenario(file: string): Promise<Scenario> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ScenarioError(`${file}: ${(err as Error).message}`)
  }
  let data: unknown
  try {
    if (/\.ya?ml$/i.test(file)) {
      const { parse } = await import('yaml')
      data = parse(text)
    } else {
      data = JSON.parse(text)
    }
  } catch (err) {
    throw new ScenarioError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`)
  }
  const parsed = scenarioSchema.safeParse(data)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)'}: ${i.message}`)
    throw new ScenarioError(`${file}: invalid scenario\n${lines.join('\n')}`)
  }
  return parsed.data
}
