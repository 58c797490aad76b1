import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'

/** The catalogue shipped with the project: `catalogue/device-types/*.json` and `catalogue/rules/*.json`. */
export const DEFAULT_CATALOGUE_DIR = fileURLToPath(new URL('../catalogue/', import.meta.url))

// The same shape `POST /device-types` takes; the gateway validates it again, this only catches a
// broken file before anything is sent.
const metricSpecSchema = z.strictObject({
  unit: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  description: z.string().optional(),
})
export const deviceTypeSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  metrics: z.record(z.string(), metricSpecSchema),
  eventCodes: z.array(z.string()).default([]),
  maintenanceCodes: z.array(z.string()).default([]),
})
export type DeviceTypeSpec = z.infer<typeof deviceTypeSchema>

// Rules are validated by the gateway (POST /rules/validate), which knows which kinds it speaks.
const ruleDocSchema = z.looseObject({ id: z.string().min(1), deviceType: z.string().min(1), when: z.looseObject({ kind: z.string() }) })
export type RuleDoc = z.infer<typeof ruleDocSchema>

export type Catalogue = { dir: string; deviceTypes: DeviceTypeSpec[]; rules: RuleDoc[] }

export function readCatalogue(dir = DEFAULT_CATALOGUE_DIR): Catalogue {
  const deviceTypes = jsonFiles(path.join(dir, 'device-types')).map(({ file, json }) => parse(deviceTypeSchema, json, file))
  const rules = jsonFiles(path.join(dir, 'rules')).flatMap(({ file, json }) =>
    (Array.isArray(json) ? json : [json]).map((doc, i) => parse(ruleDocSchema, doc, `${file}[${i}]`)))
  const ids = new Set<string>()
  for (const rule of rules) {
    if (ids.has(rule.id)) throw new Error(`catalogue: rule id ${rule.id} appears twice`)
    ids.add(rule.id)
  }
  return { dir, deviceTypes, rules }
}

export function deviceTypeById(catalogue: Catalogue, id: string): DeviceTypeSpec {
  const type = catalogue.deviceTypes.find((t) => t.id === id)
  if (!type) throw new Error(`catalogue ${catalogue.dir} has no device type "${id}"`)
  return type
}

function jsonFiles(dir: string): { file: string; json: unknown }[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const file = path.join(dir, f)
    try {
      return { file, json: JSON.parse(readFileSync(file, 'utf8')) }
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`)
    }
  })
}

function parse<T extends z.ZodType>(schema: T, json: unknown, where: string): z.infer<T> {
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw new Error(`${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
  return parsed.data
}
