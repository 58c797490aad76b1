/**
 * Ticket evidence in words an agent can read out on the phone. Evidence is stored JSON and older
 * tickets may carry shapes the rule engine no longer emits, so every describer checks the fields
 * it needs and anything it does not recognise falls through to a generic JSON-to-words rendering
 * instead of failing the agent's screen.
 */

export type WordsContext = {
  /** IANA zone of the customer: times are shown as the customer lives them. */
  timeZone: string
  /** Metric name → unit, from the device type. */
  units?: Record<string, string | undefined>
}

type Fields = Record<string, unknown>

const OP_WORDS: Record<string, string> = { '>': 'above', '>=': 'at or above', '<': 'below', '<=': 'at or below', '==': 'equal to', '!=': 'other than' }
const AGGREGATE_WORDS: Record<string, string> = {
  avg: 'average', min: 'minimum', max: 'maximum', sum: 'sum', count: 'count', stddev: 'spread (standard deviation)', median: 'median', p95: '95th percentile',
}
const DIRECTION_WORDS: Record<string, string> = { up: 'unusually high', down: 'unusually low', both: 'unusual' }

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const has = (e: Fields, numbers: string[], strings: string[] = []) => numbers.every((k) => isNum(e[k])) && strings.every((k) => isStr(e[k]))

export function formatNumber(n: number): string {
  const rounded = Math.abs(n) >= 100 ? Math.round(n) : Number(n.toPrecision(3))
  return String(Object.is(rounded, -0) ? 0 : rounded)
}

/** "10 min", "2 h 5 min", "3 d 4 h": the two largest units, which is all a person takes in. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`)
      rest %= size
    }
  }
  return parts.slice(0, 2).join(' ')
}

/** "2026-11-02 10:02" in the customer's zone; an unknown zone falls back to UTC rather than throwing. */
export function formatTime(epochMs: number, timeZone: string): string {
  let format: Intl.DateTimeFormat
  try {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  } catch {
    return formatTime(epochMs, 'UTC')
  }
  const p = Object.fromEntries(format.formatToParts(new Date(epochMs)).map((x) => [x.type, x.value]))
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`
}

function words(ctx: WordsContext) {
  const value = (metric: string, n: number) => {
    const unit = ctx.units?.[metric]
    return unit ? `${formatNumber(n)} ${unit}` : formatNumber(n)
  }
  const at = (ms: number) => `${formatTime(ms, ctx.timeZone)} (customer time)`
  const op = (o: unknown) => OP_WORDS[String(o)] ?? String(o)
  return { value, at, op }
}

function describeThreshold(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['limit', 'value', 'since', 'heldMs', 'readings', 'min', 'max'], ['metric', 'op'])) return undefined
  const w = words(ctx)
  const metric = e.metric as string
  const [limit, value, min, max, readings, heldMs] = [e.limit, e.value, e.min, e.max, e.readings, e.heldMs] as number[]
  if (heldMs <= 0 || readings <= 1) return `${metric} was ${w.value(metric, value)}, ${w.op(e.op)} ${w.value(metric, limit)}, at ${w.at(e.since as number)}`
  const extreme = e.op === '>' || e.op === '>=' ? `up to ${w.value(metric, max)}`
    : e.op === '<' || e.op === '<=' ? `down to ${w.value(metric, min)}`
    : `between ${w.value(metric, min)} and ${w.value(metric, max)}`
  return `${metric} has been ${w.op(e.op)} ${w.value(metric, limit)} for ${formatDuration(heldMs)} (${readings} readings, ${extreme}) since ${w.at(e.since as number)}`
}

function describeFit(e: Fields, ctx: WordsContext) {
  const w = words(ctx)
  const metric = e.metric as string
  const slope = e.slopePerHour as number
  const movement = slope > 0 ? `rising ${w.value(metric, slope)} per hour` : slope < 0 ? `falling ${w.value(metric, -slope)} per hour` : 'flat'
  return `${metric} is ${movement} over the last ${formatDuration(e.overMs as number)} (${e.points} readings, fit R² ${formatNumber(e.r2 as number)})`
}

function describeTrend(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['limit', 'slopePerHour', 'r2', 'points', 'overMs', 'predictedFailureAt'], ['metric', 'op'])) return undefined
  const w = words(ctx)
  return `${describeFit(e, ctx)}; predicted to reach ${w.value(e.metric as string, e.limit as number)} around ${w.at(e.predictedFailureAt as number)}`
}

function describeRate(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['limit', 'slopePerHour', 'r2', 'points', 'overMs'], ['metric', 'op'])) return undefined
  const w = words(ctx)
  return `${describeFit(e, ctx)}, a change ${w.op(e.op)} the limit of ${w.value(e.metric as string, e.limit as number)} per hour`
}

function describeCount(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['atLeast', 'withinMs', 'first', 'last'], ['lastCode']) || !Array.isArray(e.codes)) return undefined
  const w = words(ctx)
  const codes = (e.codes as unknown[]).map(String)
  const which = codes.length === 1 ? `event ${codes[0]}` : `events ${codes.join(' or ')}`
  return `${which} reported ${e.atLeast} times within ${formatDuration(e.withinMs as number)}, from ${w.at(e.first as number)} to ${w.at(e.last as number)} (last: ${e.lastCode})`
}

function describeAbsence(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['lastSeenAt', 'forMs', 'silentMs'])) return undefined
  const w = words(ctx)
  const status = isStr(e.lastStatus) ? `; last status ${e.lastStatus}` : ''
  return `no telemetry for ${formatDuration(e.silentMs as number)} (allowed: ${formatDuration(e.forMs as number)}), last heard from at ${w.at(e.lastSeenAt as number)}${status}`
}

function describeAggregate(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['limit', 'value', 'points', 'overMs', 'since', 'heldMs'], ['metric', 'fn', 'op'])) return undefined
  const w = words(ctx)
  const metric = e.metric as string
  const fn = AGGREGATE_WORDS[e.fn as string] ?? String(e.fn)
  const value = e.fn === 'count' ? formatNumber(e.value as number) : w.value(metric, e.value as number)
  const limit = e.fn === 'count' ? formatNumber(e.limit as number) : w.value(metric, e.limit as number)
  const held = (e.heldMs as number) > 0 ? ` for ${formatDuration(e.heldMs as number)}` : ''
  return `the ${fn} of ${metric} over ${formatDuration(e.overMs as number)} is ${e.estimated === true ? 'about ' : ''}${value} (${e.points} readings), ${w.op(e.op)} ${limit}${held} since ${w.at(e.since as number)}`
}

function describeAnomaly(e: Fields, ctx: WordsContext): string | undefined {
  if (!has(e, ['limit', 'recentMean', 'recentPoints', 'baselineMean', 'baselineStddev', 'baselinePoints'], ['metric'])) return undefined
  const w = words(ctx)
  const metric = e.metric as string
  const how = DIRECTION_WORDS[String(e.direction)] ?? 'unusual'
  const spread = isNum(e.z) ? `${formatNumber(Math.abs(e.z))} spreads from normal, limit ${formatNumber(e.limit as number)}` : 'normal had no spread'
  return `${metric} is ${how}: recent average ${w.value(metric, e.recentMean as number)} over ${e.recentPoints} readings against a usual ${w.value(metric, e.baselineMean as number)} ± ${w.value(metric, e.baselineStddev as number)} (${e.baselinePoints} readings; ${spread})`
}

function describeComposite(e: Fields, ctx: WordsContext): string | undefined {
  if (!Array.isArray(e.of)) return undefined
  const held = (e.of as unknown[]).filter((m) => m !== null && m !== undefined).map((m) => describeEvidence(m, ctx))
  if (held.length === 0) return undefined
  if (held.length === 1) return held[0]
  return `${e.kind === 'all' ? 'all of these held' : 'these held'}: ${held.map((h, i) => `(${i + 1}) ${h}`).join('; ')}`
}

function describeContact(e: Fields): string | undefined {
  if (!isStr(e.channel) || !isStr(e.reason)) return undefined
  return `the customer got in touch by ${e.channel}: "${e.reason}"`
}

const DESCRIBERS: Record<string, (e: Fields, ctx: WordsContext) => string | undefined> = {
  threshold: describeThreshold,
  trend: describeTrend,
  rate: describeRate,
  count: describeCount,
  absence: describeAbsence,
  aggregate: describeAggregate,
  anomaly: describeAnomaly,
  all: describeComposite,
  any: describeComposite,
  contact: describeContact,
}

/** One sentence (without a final full stop) saying what the evidence shows. */
export function describeEvidence(evidence: unknown, ctx: WordsContext): string {
  if (evidence === null || evidence === undefined) return 'no evidence recorded'
  if (typeof evidence !== 'object' || Array.isArray(evidence)) return jsonToWords(evidence, ctx)
  const e = evidence as Fields
  const described = isStr(e.kind) && Object.hasOwn(DESCRIBERS, e.kind) ? DESCRIBERS[e.kind](e, ctx) : undefined
  return described ?? jsonToWords(evidence, ctx)
}

/**
 * The fallback: "<kind> evidence: metric drain_time_s, level 3, seen at 2026-11-02 10:02 (customer
 * time)". Keys read as words; `…At` numbers as times and `…Ms` numbers as durations, because that
 * is how evidence stores them (epoch ms and ms, rules/evidence.ts).
 */
export function jsonToWords(value: unknown, ctx: WordsContext, key = ''): string {
  if (value === null || value === undefined) return 'none'
  if (typeof value === 'number') {
    if (/At$/.test(key) && value > 1e11) return words(ctx).at(value)
    if (/Ms$/.test(key)) return formatDuration(value)
    return formatNumber(value)
  }
  if (typeof value === 'string' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return value.length ? value.map((v) => jsonToWords(v, ctx)).join(', ') : 'none'
  const entries = Object.entries(value as Fields).filter(([k, v]) => k !== 'kind' && v !== undefined)
  const body = entries.map(([k, v]) => {
    const inner = jsonToWords(v, ctx, k)
    return `${keyToWords(k)} ${v !== null && typeof v === 'object' && !Array.isArray(v) ? `(${inner})` : inner}`
  }).join(', ')
  const kind = (value as Fields).kind
  if (typeof kind === 'string') return body ? `${kind} evidence: ${body}` : `${kind} evidence`
  return body || 'nothing'
}

function keyToWords(key: string) {
  return key.replace(/(Ms|At)$/, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase()
}
