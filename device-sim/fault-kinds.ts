import type { ProfileId } from './profiles/profile.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

export const FAULT_KIND_IDS = [
  'drain-clog', 'compressor-wear', 'refrigerant-leak', 'filter-clog', 'element-scaling',
  'sudden-failure', 'flapping-sensor', 'unplugged', 'wifi-lost', 'garbage',
] as const
export type FaultKindId = (typeof FAULT_KIND_IDS)[number]

type FaultKind = {
  /** gradual: progress 0→1 over `duration`; sudden: breaks at start, noticed `noticeAfter` later; outage: lasts `duration`. */
  shape: 'gradual' | 'sudden' | 'outage' | 'noise'
  /** Ticket problems (rule `ticket.problem`) that correctly describe the fault, per profile it applies to. */
  problems: Partial<Record<ProfileId, string[]>>
  expectTicket: boolean
  /** A plain threshold rule with `for` catches it before the customer notices. */
  thresholdDetectable: boolean
  defaultDurationMs: number
  noticeAfterMs?: Partial<Record<ProfileId, number>>
  /** Used for random fault mixes: common slow faults dominate, as in service records. */
  weight: number
  describe: string
}

const ALL = (problems: string[]) => ({ washer: problems, fridge: problems, 'air-conditioner': problems, 'water-heater': problems })

export const FAULT_KINDS: Record<FaultKindId, FaultKind> = {
  'drain-clog': {
    shape: 'gradual', problems: { washer: ['drain-pump'] }, expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 14 * DAY, weight: 3, describe: 'drain pump clogging: drain time creeps up until the pump blocks (E21)',
  },
  'compressor-wear': {
    shape: 'gradual', problems: { fridge: ['compressor', 'not-cooling'] }, expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 14 * DAY, weight: 3, describe: 'compressor wearing: duty cycle creeps up until it cannot hold the cabinet cold',
  },
  'refrigerant-leak': {
    shape: 'gradual', problems: { 'air-conditioner': ['refrigerant'] }, expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 14 * DAY, weight: 3, describe: 'refrigerant leak: supply/return delta and suction pressure shrink until it no longer cools',
  },
  'filter-clog': {
    shape: 'gradual', problems: { 'air-conditioner': ['filter'] }, expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 21 * DAY, weight: 2, describe: 'air filter clogging: pressure drop across the filter rises, airflow falls',
  },
  'element-scaling': {
    shape: 'gradual', problems: { 'water-heater': ['scaling'] }, expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 21 * DAY, weight: 3, describe: 'heating element scaling: heat-up time grows, the element overheats (E4) and burns out',
  },
  'sudden-failure': {
    shape: 'sudden',
    problems: { washer: ['motor-drive'], fridge: ['compressor-start', 'not-cooling'], 'air-conditioner': ['compressor'], 'water-heater': ['element'] },
    expectTicket: true, thresholdDetectable: true, defaultDurationMs: 0, weight: 2,
    // The appliance breaks at the start with error-code bursts; this is when the customer notices.
    noticeAfterMs: { washer: 2 * DAY, fridge: 12 * HOUR, 'air-conditioner': 3 * HOUR, 'water-heater': 12 * HOUR },
    describe: 'sudden failure with error-code bursts (motor drive, compressor start relay, compressor trip, element burn-out)',
  },
  'flapping-sensor': {
    shape: 'gradual', problems: ALL(['temperature-sensor']), expectTicket: true, thresholdDetectable: true,
    defaultDurationMs: 7 * DAY, weight: 1, describe: 'loose temperature sensor: readings jump to the open-circuit rail, more and more often',
  },
  unplugged: {
    shape: 'outage', problems: {}, expectTicket: false, thresholdDetectable: false,
    defaultDurationMs: 2 * DAY, weight: 1, describe: 'unplugged: a clean powered_off, silence, then back online (not a fault)',
  },
  'wifi-lost': {
    shape: 'outage', problems: ALL(['connectivity']), expectTicket: true, thresholdDetectable: false,
    // Not a breakdown, but the customer notices within a day that the app shows stale data.
    defaultDurationMs: 0, weight: 1, noticeAfterMs: { washer: DAY, fridge: DAY, 'air-conditioner': DAY, 'water-heater': DAY },
    describe: 'Wi-Fi lost: the connection drops without DISCONNECT, the broker publishes the last will (offline), silence follows',
  },
  garbage: {
    shape: 'noise', problems: {}, expectTicket: false, thresholdDetectable: false,
    defaultDurationMs: 0, weight: 0.5, describe: 'garbage sender: broken firmware mixes malformed messages into valid telemetry (expect rejections, no ticket)',
  },
}

export function faultAppliesTo(kind: FaultKindId, profile: ProfileId): boolean {
  const k = FAULT_KINDS[kind]
  return k.expectTicket ? (k.problems[profile]?.length ?? 0) > 0 : true
}

/** Start, failure and end of a fault placed at `startAt`; the ground truth the scorer compares with. */
export function faultTimeline(kind: FaultKindId, profile: ProfileId, startAt: number, durationMs?: number) {
  const k = FAULT_KINDS[kind]
  const duration = durationMs ?? k.defaultDurationMs
  switch (k.shape) {
    case 'gradual': return { startAt, failureAt: startAt + duration, endAt: null }
    case 'sudden': return { startAt, failureAt: startAt + (k.noticeAfterMs?.[profile] ?? 0), endAt: null }
    case 'outage':
      return k.noticeAfterMs
        ? { startAt, failureAt: startAt + (k.noticeAfterMs[profile] ?? DAY), endAt: null }
        : { startAt, failureAt: null, endAt: startAt + duration }
    case 'noise': return { startAt, failureAt: null, endAt: null }
  }
}
